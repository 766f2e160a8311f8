"""The reports page in real headless Chromium against the whole server, on the hand-worked data set of
tests/unit/test_report_figures.py: a supervisor logs in, reads the daily report of 2026-10-09 (接通率 37.5%, the
住建局 first in the department assessment, both charts drawn), is told what a bad period should look like, and
archives the day: the run turns 已完成 with its files, and its PDF is a PDF. A department's staff is refused. The
browser's console stays free of errors; the screenshot is kept in artifacts/reports-page.png."""

from __future__ import annotations

import asyncio
import base64
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.command import Command
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select

from ivr import keys
from tests.e2e.browser import until
from tests.helpers import Hotline
from tests.unit.test_report_figures import _seed

pytestmark = pytest.mark.asterisk
PASSWORD = "报表-e2e-password"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
FORBIDDEN = "reports are for the centre's supervisors and administrators"


def log_in(driver: webdriver.Chrome, url: str, user: str) -> None:
    driver.get(url + "/reports")
    until(driver, seen.visibility_of_element_located((By.ID, "login")))
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-button").click()


def choose(driver: webdriver.Chrome, kind: str, period: str) -> None:
    Select(driver.find_element(By.ID, "kind")).select_by_visible_text(kind)
    field = driver.find_element(By.ID, "period")
    field.clear()
    field.send_keys(period)


def rows(table: WebElement) -> list[list[str]]:
    """The table's rows of cells (not headings) as shown, read at once (the runs' table is redrawn as it is polled)."""
    found = table.parent.execute_script(
        "return Array.from(arguments[0].querySelectorAll('tr'), (row) => Array.from(row.cells)"
        "  .filter((cell) => cell.tagName === 'TD').map((cell) => cell.innerText.trim()))"
        "  .filter((cells) => cells.length);", table)
    return [[str(cell) for cell in row] for row in found]


def section(driver: webdriver.Chrome, title: str) -> WebElement:
    return driver.find_element(By.XPATH, f"//div[@id='sections']/h3[.='{title}']/following-sibling::*[1]")


def charts_drawn(driver: webdriver.Chrome) -> dict[str, object]:
    """Each canvas's Chart.js chart: its type, its series, and the size it was drawn at."""
    return dict(driver.execute_script(
        "const found = {};"
        "for (const id of ['trend', 'types']) {"
        "  const chart = typeof Chart === 'undefined' ? undefined : Chart.getChart(id);"
        "  found[id] = chart ? {type: chart.config.type, series: chart.data.datasets.length,"
        "    points: chart.data.labels.length, width: chart.width, height: chart.height} : null;"
        "}"
        "return found;"))


def read_the_day(driver: webdriver.Chrome, url: str) -> None:
    log_in(driver, url, "report.lead")
    until(driver, seen.visibility_of_element_located((By.ID, "reports-page")))
    assert not driver.find_element(By.ID, "login").is_displayed()
    choose(driver, "日报", "2026-10-09")
    assert driver.find_element(By.ID, "period-hint").text == "如 2026-10-05"
    driver.find_element(By.ID, "show").click()
    until(driver, seen.text_to_be_present_in_element((By.ID, "title"), "12345热线日报（2026年10月9日）"))
    assert driver.find_element(By.ID, "report").is_displayed()
    assert driver.find_element(By.ID, "error").text == ""

    figures = {row[1]: row[2:] for row in rows(driver.find_element(By.ID, "figures"))}
    assert figures["接通率"] == ["37.5%", "100.0%", "-62.5个百分点"], figures["接通率"]
    assert figures["办结率"][0] == "40.0%"
    departments = rows(section(driver, "部门考核"))
    assert [row[2] for row in departments] == ["市住建局", "市城管局"], departments
    assert (departments[0][0], departments[0][-1]) == ("1", "100.0")
    lines = driver.execute_script(
        "const range = document.createRange(); range.selectNodeContents(arguments[0]);"
        "return range.getClientRects().length;",
        section(driver, "部门考核").find_element(By.XPATH, ".//td[.='市住建局']"))
    assert lines == 1, f"the department's name is broken over {lines} lines"
    hidden = driver.execute_script("const box = arguments[0]; return box.scrollWidth - box.clientWidth;",
                                   section(driver, "部门考核"))
    assert hidden == 0, f"{hidden} px of the department assessment are out of sight"

    drawn = charts_drawn(driver)
    assert drawn["trend"] is not None and drawn["types"] is not None, f"charts not drawn: {drawn}"
    trend, types = drawn["trend"], drawn["types"]
    assert isinstance(trend, dict) and isinstance(types, dict)
    assert (trend["type"], trend["series"], types["type"], types["series"]) == ("line", 3, "bar", 2), drawn
    # Side by side, each within its half of the panel (not stretched over the page).
    panel = driver.find_element(By.ID, "report").rect
    for name in ("trend", "types"):
        box = driver.find_element(By.ID, name).rect
        assert 0 < box["width"] <= panel["width"] / 2 and box["height"] > 0, (name, box, panel)
        assert box["x"] + box["width"] <= panel["x"] + panel["width"], (name, box, panel)
    left, right = (driver.find_element(By.ID, name).rect for name in ("trend", "types"))
    assert left["x"] + left["width"] <= right["x"] and abs(left["y"] - right["y"]) < 1, (left, right)
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= driver.execute_script("return window.innerWidth"), f"the page scrolls sideways: {width}"


def bad_period(driver: webdriver.Chrome) -> tuple[str, str]:
    """The messages of 查看 and of 下载 PDF for a month typed as a word; the page stays."""
    choose(driver, "月报", "October")
    driver.find_element(By.ID, "show").click()
    until(driver, lambda d: d.find_element(By.ID, "error").text != "")
    shown = str(driver.find_element(By.ID, "error").text)
    page = driver.current_url
    driver.execute_script("document.getElementById('error').textContent = ''")
    driver.find_element(By.CSS_SELECTOR, ".download[data-format='pdf']").click()
    until(driver, lambda d: d.find_element(By.ID, "error").text != "")
    assert driver.current_url == page and driver.find_element(By.ID, "report").is_displayed()
    return shown, str(driver.find_element(By.ID, "error").text)


def archive_the_day(driver: webdriver.Chrome) -> bytes:
    """Archives 2026-10-09; the run's row once done, and the first bytes of its PDF fetched with the page's
    session."""
    choose(driver, "日报", "2026-10-09")
    driver.find_element(By.ID, "archive").click()
    until(driver, lambda d: len(rows(d.find_element(By.ID, "runs"))) == 1)
    until(driver, lambda d: rows(d.find_element(By.ID, "runs"))[0][3] == "已完成", 20)
    assert driver.find_element(By.ID, "error").text == ""
    run = rows(driver.find_element(By.ID, "runs"))[0]
    assert run[1:3] + run[4:5] == ["日报", "2026-10-09", "report.lead"], run
    links = dict(driver.execute_script(
        "return Object.fromEntries(Array.from(document.querySelectorAll('#runs tbody tr:first-child a'),"
        "  (link) => [link.textContent, link.href]));"))
    assert sorted(links) == ["CSV", "JSON", "PDF", "XLSX"], links
    head = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'})"
        "  .then((r) => r.ok ? r.arrayBuffer() : Promise.reject(new Error(`${r.status}`)))"
        "  .then((data) => done(btoa(String.fromCharCode(...new Uint8Array(data.slice(0, 8))))))"
        "  .catch((error) => done('error: ' + error.message));", links["PDF"])
    assert not str(head).startswith("error"), head
    save_screenshot(driver)
    return base64.b64decode(str(head))


def department_refused(driver: webdriver.Chrome, url: str) -> str:
    driver.find_element(By.ID, "logout").click()
    until(driver, seen.visibility_of_element_located((By.ID, "login")))
    log_in(driver, url, "zj.wang")
    until(driver, lambda d: d.find_element(By.ID, "login-error").text != "")
    assert not driver.find_element(By.ID, "reports-page").is_displayed()
    return str(driver.find_element(By.ID, "login-error").text)


def save_screenshot(driver: webdriver.Chrome) -> Path:
    """The whole page, not only the window."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / "reports-page.png"
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def console_errors(driver: webdriver.Chrome) -> tuple[list[str], list[str]]:
    """The console's errors since last asked: script errors, and requests answered with an error status."""
    entries = driver.execute(Command.GET_LOG, {"type": "browser"})["value"]
    severe = [str(entry["message"]) for entry in entries if entry["level"] == "SEVERE"]
    refused = [message for message in severe if "Failed to load resource" in message]
    return [message for message in severe if message not in refused], refused


async def test_a_supervisor_reads_and_archives_a_day_and_a_department_is_refused(
        hotline: Hotline, browser: webdriver.Chrome) -> None:
    await _seed(hotline.app[keys.ENGINE])
    directory = hotline.app[keys.DIRECTORY]
    now = datetime.now(UTC)
    await directory.add_user("report.lead", "值班长", "supervisor", PASSWORD, now)
    await directory.add_user("zj.wang", "王", "department_staff", PASSWORD, now, "zj")

    await asyncio.to_thread(read_the_day, browser, hotline.web_url)
    shown, downloading = await asyncio.to_thread(bad_period, browser)
    assert "2026-10" in shown and "October" in shown and downloading == shown, (shown, downloading)
    # Before logging in, the page asks who is there (401); the bad period is a 400 twice: nothing else went wrong.
    errors, refused = await asyncio.to_thread(console_errors, browser)
    assert errors == [] and len(refused) == 3, (errors, refused)
    assert "/api/portal/me" in refused[0] and "401" in refused[0], refused
    assert "/api/reports?kind=monthly&period=October" in refused[1] and "400" in refused[1], refused
    assert "/api/reports/file?kind=monthly&period=October" in refused[2] and "400" in refused[2], refused

    pdf = await asyncio.to_thread(archive_the_day, browser)
    assert pdf.startswith(b"%PDF"), pdf
    assert await asyncio.to_thread(console_errors, browser) == ([], [])

    message = await asyncio.to_thread(department_refused, browser, hotline.web_url)
    assert message == FORBIDDEN
    errors, refused = await asyncio.to_thread(console_errors, browser)
    assert errors == [] and [("/api/reports/runs" in entry, "403" in entry) for entry in refused[-1:]] == [
        (True, True)], (errors, refused)
