"""The campaigns page in real headless Chromium against the whole server: a supervisor logs in, uploads a number
list with a broken row and a quota, sees the problem line, starts the campaign; when a number of it is answered
(and the notifier told, as the dialer's listener does) the progress bar and the results on the page change by
themselves (server-sent events, no reload); `hotline campaign status` shows the same."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from ivr import keys
from ivr.cli import main
from ivr.db.models import Survey
from ivr.workorders.admin import STARTER_DIRECTORY, load_directory, read_directory
from tests.e2e.browser import until
from tests.helpers import Hotline

pytestmark = pytest.mark.asterisk
PASSWORD = "值班长-e2e-password"
LIST = ("号码,单位,姓名\n"
        "13900001001,urban,张三\n"
        "1390000,urban,号码不全\n"
        "13900001002,urban\n"
        "13900001003,water,李四\n")


def unit_state(driver: webdriver.Chrome, unit: str) -> tuple[str, str] | None:
    """The unit's progress row as shown: (answered, target)."""
    found = driver.execute_script(
        "const row = document.querySelector(`#units .unit[data-unit='${arguments[0]}']`);"
        "return row ? [row.dataset.answered, row.dataset.target] : null;", unit)
    return (found[0], found[1]) if found else None


def status_shown(driver: webdriver.Chrome) -> str | None:
    return driver.find_element(By.ID, "d-status").get_attribute("data-status")


def log_in_and_upload(driver: webdriver.Chrome, url: str, csv_file: Path) -> str:
    """The supervisor's steps up to the started campaign; the campaign's id as the page shows it."""
    driver.get(url + "/campaigns")
    until(driver, seen.visibility_of_element_located((By.ID, "login")))
    driver.find_element(By.ID, "user").send_keys("campaign.lead")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login-button").click()
    until(driver, seen.visibility_of_element_located((By.ID, "create")))

    driver.find_element(By.ID, "c-name").send_keys("城管水务服务评议")
    Select(driver.find_element(By.ID, "c-script")).select_by_value("public_evaluation")
    Select(driver.find_element(By.ID, "c-channels")).select_by_value("phone,sms")
    driver.find_element(By.ID, "add-quota").click()
    Select(driver.find_element(By.CSS_SELECTOR, "#quotas .quota-unit")).select_by_value("urban")
    driver.find_element(By.CSS_SELECTOR, "#quotas .quota-count").send_keys("2")
    driver.find_element(By.ID, "c-file").send_keys(str(csv_file))
    driver.find_element(By.ID, "c-submit").click()

    # The broken row is reported with its line; the rest is imported and shown, ready to start.
    until(driver, seen.text_to_be_present_in_element((By.ID, "problems"), "第 3 行"))
    assert "'1390000' is not an 11-digit mobile number" in driver.find_element(By.ID, "problems").text
    assert "已导入 3 个号码，1 行有问题未导入" in driver.find_element(By.ID, "create-result").text
    campaign_id = str(driver.find_element(By.ID, "create-result").get_attribute("data-campaign-id"))
    until(driver, lambda d: status_shown(d) == "ready")
    assert "第 3 行" in driver.find_element(By.ID, "d-problems").text
    assert driver.find_element(By.CSS_SELECTOR, f"#campaigns tr[data-id='{campaign_id}']").text.startswith(
        f"{campaign_id} 城管水务服务评议 政务服务评议 先电话后短信 待启动 3 0")
    assert unit_state(driver, "urban") == ("0", "2") and unit_state(driver, "water") == ("0", "1")
    assert not driver.find_element(By.ID, "start").get_attribute("disabled")
    assert driver.find_element(By.ID, "pause").get_attribute("disabled")

    driver.find_element(By.ID, "start").click()
    until(driver, lambda d: status_shown(d) == "running")
    assert driver.find_element(By.ID, "start").get_attribute("disabled")
    until(driver, lambda d: d.find_element(By.CSS_SELECTOR, f"#campaigns tr[data-id='{campaign_id}']")
          .get_attribute("data-status") == "running")
    return campaign_id


def answered_on_the_page(driver: webdriver.Chrome) -> None:
    """Pushed by the stream: the bar of urban moves to 1 of 2, the results count the answer."""
    until(driver, lambda d: unit_state(d, "urban") == ("1", "2"))
    bar = driver.find_element(By.CSS_SELECTOR, "#units .unit[data-unit='urban'] progress")
    assert (bar.get_attribute("value"), bar.get_attribute("max")) == ("1", "2")
    assert "满意率 100.0%" in driver.find_element(By.CSS_SELECTOR, "#units .unit[data-unit='urban']").text
    row = driver.find_element(By.CSS_SELECTOR, "#results tr[data-unit='urban'][data-question='service']")
    assert row.text.split() == ["urban", "市城市管理局", "服务满意度", "1", "1", "0", "0", "0", "0", "100.0%"]
    assert "实时更新" in driver.find_element(By.ID, "d-live").text


def export_from_the_page(driver: webdriver.Chrome) -> str:
    """The answers export the page links to, fetched with the page's session."""
    href = driver.find_element(By.ID, "export-answers").get_attribute("href")
    return str(driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then((r) => r.text()).then(done);", href))


async def test_a_supervisor_runs_a_campaign_on_the_page_and_sees_its_progress_live(
        hotline: Hotline, browser: webdriver.Chrome, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    directory = hotline.app[keys.DIRECTORY]
    await load_directory(directory, read_directory(STARTER_DIRECTORY))
    await directory.add_user("campaign.lead", "值班长", "supervisor", PASSWORD, datetime.now(UTC))
    csv_file = tmp_path / "名单.csv"
    csv_file.write_text(LIST, encoding="utf-8")

    campaign_id = int(await asyncio.to_thread(log_in_and_upload, browser, hotline.web_url, csv_file))
    campaign = await hotline.app[keys.CAMPAIGNS].get(campaign_id)
    assert (campaign.status, campaign.quotas, campaign.created_by) == ("running", {"urban": 2}, "campaign.lead")

    # A citizen of urban answers (as the dialer records a call's keys), and the notifier is told.
    async with hotline.app[keys.ENGINE].connect() as connection:
        survey_id = (await connection.execute(select(Survey.id).where(
            Survey.campaign_id == campaign_id, Survey.number == "13900001001"))).scalar_one()
    answered = await hotline.app[keys.SURVEYS].answer(
        survey_id, {"service": "very_satisfied", "efficiency": "satisfied"}, "phone", datetime.now(UTC))
    assert answered is not None and answered.status == "answered"
    hotline.app[keys.CAMPAIGN_PROGRESS].changed(campaign_id)
    await asyncio.to_thread(answered_on_the_page, browser)

    exported = await asyncio.to_thread(export_from_the_page, browser)
    assert "139****1001" in exported and "13900001001" not in exported

    # The command line shows the same progress, from the same database.
    settings = hotline.settings
    code = await asyncio.to_thread(main, ["--set", f"database_url={settings.database}", "--set",
                                          f"data_dir={settings.data_dir}", "--set", "log_level=WARNING",
                                          "campaign", "status", str(campaign_id)])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    assert lines[0].startswith(f"campaign {campaign_id}: 城管水务服务评议 · 政务服务评议 · 先电话后短信 · running")
    assert lines[0].endswith("1 problem line(s) in its list")
    assert [line.split() for line in lines[2:]] == [
        ["urban", "2", "0", "1", "2", "1", "100.0%", "市城市管理局"],
        ["water", "1", "0", "0", "—", "1", "—", "市水务集团"],
        ["(all)", "3", "0", "1", "3", "2", "100.0%", "全部"],
    ]
