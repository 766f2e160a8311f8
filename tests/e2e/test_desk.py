"""The agents' desk in real headless Chromium, during a real call through Asterisk."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select, WebDriverWait

from ivr import keys
from tests.helpers import CITIZEN, CONVERSATION_MS, Hotline, wait

pytestmark = pytest.mark.asterisk
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def chromium() -> None:
    """Debian's Chromium and its driver: installed when missing, never skipped."""
    if shutil.which("chromium") is None or shutil.which("chromedriver") is None:
        subprocess.run(["apt-get", "install", "-y", "-q", "chromium", "chromium-driver"], check=True)


@pytest.fixture
def browser(chromium: None, tmp_path: Path) -> Iterator[webdriver.Chrome]:
    options = Options()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1100,900"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    yield driver
    driver.quit()


def until(driver: webdriver.Chrome, condition: object, seconds: float = 10) -> object:
    return WebDriverWait(driver, seconds).until(condition)  # type: ignore[arg-type]


def log_in_and_take_seat(driver: webdriver.Chrome, url: str, agent_id: str, pin: str, seat: str) -> None:
    driver.get(url + "/desk")
    driver.find_element(By.ID, "agent-id").send_keys(agent_id)
    driver.find_element(By.ID, "pin").send_keys(pin)
    driver.find_element(By.ID, "login-button").click()
    until(driver, seen.visibility_of_element_located((By.ID, "seat-choice")))
    Select(driver.find_element(By.ID, "seat-choice")).select_by_value(seat)
    driver.find_element(By.ID, "seat-login").click()
    until(driver, seen.text_to_be_present_in_element((By.ID, "seat-number"), seat))


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


async def test_the_agent_sees_the_callers_orders_and_takes_a_new_one_on_the_page(
    hotline: Hotline, browser: webdriver.Chrome
) -> None:
    caller = "13800138777"
    pin = await hotline.ensure_agent("1024", "孙八") or await hotline.app[keys.AGENT_STORE].reset_pin("1024")
    orders = hotline.app[keys.WORK_ORDERS]
    earlier = await orders.add_from_call(caller, "earlier.2", "1099", "小区停水", datetime.now(UTC) - timedelta(days=1))
    await asyncio.to_thread(log_in_and_take_seat, browser, hotline.web_url, "1024", pin, "8024")
    async with hotline.softphone("8024") as softphone:
        connected = hotline.expect_ami_event(lambda name, f: name == "AgentConnect" and f.get("MemberName") == "1024")
        call = asyncio.create_task(hotline.citizen_call("12345", hang_up_after_ms=CONVERSATION_MS * 2, caller=caller))
        event = await wait(connected, 20, "the call did not reach agent 1024", softphone)
        await asyncio.to_thread(until, browser, seen.visibility_of_element_located((By.ID, "screen-pop")))
        listed = await asyncio.to_thread(lambda: [li.text for li in browser.find_elements(By.CSS_SELECTOR,
                                                                                           "#pop-orders li")])

        def take_order() -> str:
            browser.find_element(By.ID, "order-content").send_keys("路灯不亮，在人民大街")
            browser.find_element(By.CSS_SELECTOR, "#order-form button").click()
            until(browser, seen.text_to_be_present_in_element((By.ID, "order-done"), "#"))
            return browser.find_element(By.ID, "order-done").text

        done = await asyncio.to_thread(take_order)
        assert (await call).process.returncode == 0
    assert listed == [f"#{earlier} · open · 1099 · 小区停水"], "the open order of the earlier call is shown"
    new = await orders.for_call(event["Uniqueid"])
    assert new is not None and done == f"已登记工单 #{new.id}"
    assert (new.status, new.agent, new.caller_number, new.content) == ("open", "1024", caller, "路灯不亮，在人民大街")
