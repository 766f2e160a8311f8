"""The agents' desk in real headless Chromium, during a real call through Asterisk."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select

from ivr import keys
from tests.e2e.browser import log_in_and_take_seat, until
from tests.helpers import CITIZEN, CONVERSATION_MS, Hotline, wait

pytestmark = pytest.mark.asterisk



def seat_state(driver: webdriver.Chrome) -> str:
    return driver.find_element(By.ID, "seat-state").get_attribute("data-state") or ""


async def test_screen_pop_reaches_the_agents_browser_within_half_a_second(
    hotline: Hotline, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    pin = await hotline.ensure_agent("1021", "张三")
    assert pin is not None
    earlier = datetime.now(UTC) - timedelta(days=2)
    await hotline.app[keys.CALL_STORE].upsert([{"uniqueid": "earlier.1", "caller_number": CITIZEN,
                                                "started_at": earlier, "outcome": "abandoned"}])

    await asyncio.to_thread(log_in_and_take_seat, browser, hotline.web_url, "1021", pin, "8021")
    assert await asyncio.to_thread(seat_state, browser) == "unavailable", "the softphone is not registered yet"

    async with hotline.softphone("8021") as softphone:
        await asyncio.to_thread(until, browser, lambda driver: seat_state(driver) == "not_in_use")
        connected = hotline.expect_ami_event(lambda name, f: name == "AgentConnect" and f.get("MemberName") == "1021")
        call = asyncio.create_task(hotline.citizen_call("12345", hang_up_after_ms=CONVERSATION_MS))
        event = await wait(connected, 20, "the call did not reach agent 1021", softphone)
        pop = await asyncio.to_thread(until, browser, seen.visibility_of_element_located((By.ID, "screen-pop")))
        shown_at = int(await asyncio.to_thread(pop.get_attribute, "data-shown-at")) / 1000  # type: ignore[attr-defined]
        caller = await asyncio.to_thread(lambda: browser.find_element(By.ID, "pop-caller").text)
        history = await asyncio.to_thread(lambda: browser.find_elements(By.CSS_SELECTOR, "#pop-history li"))
        uniqueid = await asyncio.to_thread(pop.get_attribute, "data-uniqueid")  # type: ignore[attr-defined]
        await asyncio.to_thread(browser.save_screenshot, str(tmp_path / "screen-pop.png"))
        citizen = await call
    assert citizen.process.returncode == 0, citizen.errors
    assert caller == CITIZEN and uniqueid == event["Uniqueid"]
    assert len(history) == 1 and "放弃" in history[0].text, "the earlier call is listed"
    delay = shown_at - float(event["Timestamp"])
    assert 0 <= delay < 0.5, f"screen-pop shown {delay:.3f} s after Asterisk's AgentConnect"


async def test_pause_and_resume_from_the_desk_reach_asterisk(hotline: Hotline, browser: webdriver.Chrome) -> None:
    pin = await hotline.ensure_agent("1022", "李四")
    assert pin is not None
    await asyncio.to_thread(log_in_and_take_seat, browser, hotline.web_url, "1022", pin, "8022")
    paused = hotline.expect_ami_event(lambda name, f: name == "QueueMemberPause" and f.get("Paused") == "1")

    def pause_for_training() -> None:
        Select(browser.find_element(By.ID, "pause-reason")).select_by_value("training")
        browser.find_element(By.ID, "pause").click()
        until(browser, lambda driver: seat_state(driver) == "paused")

    await asyncio.to_thread(pause_for_training)
    event = await wait(paused, 5, "Asterisk was not told to pause seat 8022")
    assert (event["Interface"], event["MemberName"], event["PausedReason"]) == ("PJSIP/8022", "1022", "training")
    assert "培训" in await asyncio.to_thread(lambda: browser.find_element(By.ID, "seat-state").text)

    resumed = hotline.expect_ami_event(lambda name, f: name == "QueueMemberPause" and f.get("Paused") == "0")
    await asyncio.to_thread(lambda: browser.find_element(By.ID, "resume").click())
    await wait(resumed, 5, "Asterisk was not told to resume seat 8022")

    await asyncio.to_thread(lambda: browser.find_element(By.ID, "locale").click())
    title = await asyncio.to_thread(lambda: browser.find_element(By.CSS_SELECTOR, "header h1").text)
    assert title == "12345 agent desk"


async def test_a_wrong_pin_is_refused_on_the_page(hotline: Hotline, browser: webdriver.Chrome) -> None:
    await hotline.ensure_agent("1023", "王五")

    def try_wrong_pin() -> str:
        browser.get(hotline.web_url + "/desk")
        browser.find_element(By.ID, "agent-id").send_keys("1023")
        browser.find_element(By.ID, "pin").send_keys("000000")
        browser.find_element(By.ID, "login-button").click()
        until(browser, seen.text_to_be_present_in_element((By.ID, "login-error"), "PIN"))
        return browser.find_element(By.ID, "login-error").text

    assert "wrong agent id or PIN" in await asyncio.to_thread(try_wrong_pin)
    assert not await asyncio.to_thread(lambda: browser.find_element(By.ID, "desk").is_displayed())
