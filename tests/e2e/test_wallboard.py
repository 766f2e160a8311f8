"""The wallboard in real headless Chromium, 1920×1080, during real SIPp calls through the real Asterisk: a
supervisor logs in on the page; a citizen waits in the queue with nobody to answer, and 排队数 goes 0 → 1 within a
second of Asterisk's QueueCallerJoin while the longest wait ticks; the citizen hangs up, and the page shows nobody
waiting, one more call offered and one more abandoned. An agent logs in (在线坐席, 空闲), answers the next call
(通话中 1 within a second of AgentConnect), and once it is over 接通 is one more. A hall screen with the display key
and no session shows the same, says it is not live while Asterisk restarts, and is live again by itself after.
The screenshot is kept in artifacts/wallboard.png."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

from ivr import keys
from tests.e2e.browser import until
from tests.e2e.test_restart import restart_asterisk
from tests.helpers import Hotline, SippProcess, wait

pytestmark = pytest.mark.asterisk
PASSWORD = "大屏-e2e-password"
SEAT, AGENT = "8034", "1034"
WAITS, TALKS = "13500135001", "13500135002"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
# Figures by the element that shows them.
FIGURES = ("waiting", "offered", "answered", "abandoned", "agents-logged-in", "agents-idle", "agents-talking")


def shown(driver: webdriver.Chrome) -> dict[str, str]:
    return {name: driver.find_element(By.ID, name).text for name in FIGURES}


def shows(driver: webdriver.Chrome, seconds: float = 5, **expected: int) -> Callable[[], dict[str, str]]:
    """Waits until the page shows these figures (keyword: element id with _ for -); the figures as shown."""
    wanted = {name.replace("_", "-"): str(value) for name, value in expected.items()}

    def check() -> dict[str, str]:
        try:
            until(driver, lambda d: all(d.find_element(By.ID, k).text == v for k, v in wanted.items()), seconds)
        except Exception as exc:
            raise AssertionError(f"the page did not show {wanted} within {seconds} s: {shown(driver)}") from exc
        return shown(driver)

    return check


def changed_at(driver: webdriver.Chrome, element_id: str) -> float:
    """When the page saw the element's figure change (its clock, seconds since 1970)."""
    return int(str(driver.find_element(By.ID, element_id).get_attribute("data-changed-at"))) / 1000


def log_in(driver: webdriver.Chrome, url: str) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",  # the hall screen's size, whatever the window
                           {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False})
    driver.get(url + "/wallboard")
    until(driver, seen.visibility_of_element_located((By.ID, "login")))
    driver.find_element(By.ID, "user").send_keys("hall.lead")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-button").click()
    until(driver, lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "live")
    until(driver, lambda d: d.find_element(By.ID, "offered").text != "—")  # today's figures read


def ticks(driver: webdriver.Chrome) -> tuple[str, str]:
    """The longest wait counts on by itself, between two pushes."""
    before = driver.find_element(By.ID, "longest-wait").text
    until(driver, lambda d: d.find_element(By.ID, "longest-wait").text != before, 2.5)
    return before, driver.find_element(By.ID, "longest-wait").text


def ami_event(hotline: Hotline, name: str, **fields: str) -> asyncio.Future[dict[str, str]]:
    def match(event: str, values: Mapping[str, str]) -> bool:
        return event == name and all(values.get(k) == v for k, v in fields.items())

    return hotline.expect_ami_event(match)


async def within_a_second_of(hotline: Hotline, browser: webdriver.Chrome, event: asyncio.Future[dict[str, str]],
                             element_id: str, check: Callable[[], dict[str, str]], sipp: SippProcess | None) -> None:
    """After the AMI event, the page shows the figure, changed less than a second after Asterisk's event time."""
    fields = await wait(event, 20, f"no AMI event for {element_id}", sipp)
    await asyncio.to_thread(check)
    delay = await asyncio.to_thread(changed_at, browser, element_id) - float(fields["Timestamp"])
    assert delay < 1.0, f"{element_id} changed {delay:.3f} s after the event"
    print(f"{element_id}: shown {delay:.3f} s after Asterisk's {fields['Event']}")


async def test_the_wallboard_follows_real_calls_within_a_second(hotline: Hotline, browser: webdriver.Chrome) -> None:
    await hotline.app[keys.DIRECTORY].add_user("hall.lead", "值班长", "supervisor", PASSWORD, datetime.now(UTC))
    await asyncio.to_thread(log_in, browser, hotline.web_url)
    # Seats another test left in Asterisk's queues are taken out as the server starts (our record has none).
    before = await asyncio.to_thread(shows(browser, 3, waiting=0, agents_logged_in=0))
    offered, answered, abandoned = (int(before[name]) for name in ("offered", "answered", "abandoned"))

    # Nobody to answer: the caller waits in the queue after the greeting, then hangs up.
    joined = ami_event(hotline, "QueueCallerJoin", CallerIDNum=WAITS)
    stored = hotline.expect_finished_call()
    caller = asyncio.ensure_future(hotline.citizen_call("12345", 8_000, caller=WAITS))
    await within_a_second_of(hotline, browser, joined, "waiting", shows(browser, 1.5, waiting=1), None)
    first, later = await asyncio.to_thread(ticks, browser)
    assert first < later, "the longest wait counts up"
    citizen = await caller
    assert citizen.process.returncode == 0, citizen.errors
    await wait(stored, 15, "the abandoned call did not reach the database")
    await asyncio.to_thread(shows(browser, 3, waiting=0, offered=offered + 1, abandoned=abandoned + 1,
                                  answered=answered))

    # An agent logs in and answers the next call.
    async with hotline.agent(SEAT) as softphone:
        await asyncio.to_thread(shows(browser, 3, agents_logged_in=1, agents_idle=1, agents_talking=0))
        connected = ami_event(hotline, "AgentConnect", MemberName=AGENT)
        stored = hotline.expect_finished_call()
        caller = asyncio.ensure_future(hotline.citizen_call("12345", 8_000, caller=TALKS))
        await within_a_second_of(hotline, browser, connected, "agents-talking",
                                 shows(browser, 1.5, agents_talking=1, agents_idle=0), softphone)
        citizen = await caller
        assert citizen.process.returncode == 0, citizen.errors
        await wait(stored, 15, "the answered call did not reach the database", softphone)
        await asyncio.to_thread(shows(browser, 3, waiting=0, offered=offered + 2, answered=answered + 1,
                                      abandoned=abandoned + 1, agents_talking=0))
        screenshot = await asyncio.to_thread(save_screenshot, browser)
    print(f"wallboard screenshot: {screenshot}")

    text = await asyncio.to_thread(lambda: browser.find_element(By.TAG_NAME, "body").text)
    assert WAITS not in text and TALKS not in text, "no citizen's number on the screen"

    # The hall screen: no session, the display key in the address.
    key = hotline.secrets.wallboard_key
    await asyncio.to_thread(open_as_hall_screen, browser, hotline.web_url, key)
    await asyncio.to_thread(shows(browser, 5, offered=offered + 2, answered=answered + 1))

    # Asterisk restarts: while it is away the screen says it is not live, and it is live again by itself once the
    # AMI link is back and the queues are read again.
    restarted = asyncio.ensure_future(restart_asterisk(hotline))
    banner = await asyncio.to_thread(link_state_shown, browser, "stale", 5)
    assert "交换机的连接中断" in banner
    await wait(restarted, 30, "Asterisk did not come back")
    assert await asyncio.to_thread(link_state_shown, browser, "live", 3) == ""


def link_state_shown(driver: webdriver.Chrome, state: str, seconds: float) -> str:
    """Waits until the corner shows the link's state (live: 实时, stale: 非实时); the banner's text."""
    WebDriverWait(driver, seconds, poll_frequency=0.1).until(
        lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == state)
    banner = driver.find_element(By.ID, "banner")
    return str(banner.text) if banner.is_displayed() else ""


def save_screenshot(driver: webdriver.Chrome) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "wallboard.png"
    assert driver.save_screenshot(str(path)), "the screenshot was not saved"
    return path


def open_as_hall_screen(driver: webdriver.Chrome, url: str, key: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{url}/wallboard?key={key}")
    until(driver, lambda d: d.find_element(By.ID, "status").get_attribute("data-state") == "live")
    assert not driver.find_element(By.ID, "login").is_displayed()
