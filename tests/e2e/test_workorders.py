"""The work order's closed loop in real headless Chromium: the agent files and dispatches an order on the desk
during a real call through Asterisk; the department signs and replies on the orders page; the centre closes it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select
from sqlalchemy import select

from ivr import keys
from ivr.asterisk.process import AsteriskProcess
from ivr.db.models import OrderCall, OrderDepartment, OrderEvent, WorkOrder
from ivr.knowledge.entries import parse_entry
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.workorders.actors import Actor
from ivr.workorders.admin import STARTER_DIRECTORY, load_directory, read_directory
from ivr.workorders.service import Intake
from tests.e2e.browser import log_in_and_take_seat, until
from tests.helpers import CONVERSATION_MS, Hotline, fresh_postgres_database, start_hotline, wait

pytestmark = pytest.mark.asterisk


@pytest.fixture(params=["sqlite", "postgresql"])
async def hotline_on(request: pytest.FixtureRequest, asterisk: AsteriskProcess, settings: Settings,
                     secrets: Secrets) -> AsyncIterator[Hotline]:
    """The whole server on the embedded SQLite, and on PostgreSQL as a shared production database."""
    async with contextlib.AsyncExitStack() as stack:
        url = "" if request.param == "sqlite" else await stack.enter_async_context(fresh_postgres_database())
        yield await stack.enter_async_context(
            start_hotline(dataclasses.replace(settings, database_url=url), secrets, asterisk))
CALLER = "13800138777"
DEPARTMENT_PASSWORD = "城管-e2e-password"


async def prepare(hotline: Hotline) -> tuple[str, str]:
    """The starter directory, a department user with a knowledge entry past its review date, an agent (PIN)
    and an earlier open order of the caller's."""
    directory = hotline.app[keys.DIRECTORY]
    await load_directory(directory, read_directory(STARTER_DIRECTORY))
    await directory.add_user("urban.e2e", "城管局办理员", "department_staff", DEPARTMENT_PASSWORD, datetime.now(UTC),
                             "urban")
    urban = await directory.department_by_code("urban")
    assert urban is not None
    await hotline.app[keys.KNOWLEDGE].create(urban.id, parse_entry({
        "title": "路灯报修时限", "body": "路灯故障 3 个工作日内修复。", "review_on": "2026-01-01"}), datetime.now(UTC))
    pin = await hotline.ensure_agent("1024", "孙八") or await hotline.app[keys.AGENT_STORE].reset_pin("1024")
    earlier = await hotline.app[keys.ORDERS].create(
        Intake("phone", "小区停水", type="help", caller_number=CALLER, call_uniqueid="earlier.2"),
        Actor("1099", "agent"), datetime.now(UTC) - timedelta(days=1))
    assert earlier.number is not None
    return pin, earlier.number


def file_order_on_the_desk(browser: webdriver.Chrome) -> str:
    browser.find_element(By.ID, "order-content").send_keys("我要投诉人民大街的路灯不亮好几天了")
    browser.find_element(By.ID, "order-address").send_keys("人民大街100号")
    # The suggestion picks the topic and its department from the words.
    until(browser, seen.text_to_be_present_in_element((By.ID, "order-suggestion"), "0301"))
    assert browser.find_element(By.ID, "order-department").get_attribute("value") == "urban"
    assert browser.find_element(By.ID, "order-type").get_attribute("value") == "complaint"
    browser.find_element(By.CSS_SELECTOR, "#order-form button[type=submit]").click()
    until(browser, lambda driver: driver.find_element(By.ID, "order-done").get_attribute("data-state") == "dispatched")
    return browser.find_element(By.ID, "order-done").text


def open_order_page(browser: webdriver.Chrome, url: str, number: str) -> None:
    if not browser.current_url.endswith("/orders"):
        browser.get(url + "/orders")
    try:
        until(browser, seen.visibility_of_element_located((By.CSS_SELECTOR, f"tr[data-number='{number}']")))
    except TimeoutException:
        errors = [browser.find_element(By.ID, name).text for name in ("login-error", "error")]
        raise AssertionError(f"order {number} is not listed; the page says {errors}") from None
    browser.find_element(By.CSS_SELECTOR, f"tr[data-number='{number}']").click()
    until(browser, seen.text_to_be_present_in_element((By.ID, "d-number"), number))


def take_action(browser: webdriver.Chrome, action: str, state: str, **fields: str) -> None:
    form = browser.find_element(By.CSS_SELECTOR, f"form[data-action='{action}']")
    for name, value in fields.items():
        form.find_element(By.NAME, name).send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    until(browser, lambda driver: driver.find_element(By.ID, "d-status").get_attribute("data-state") == state)


def department_signs_and_replies(browser: webdriver.Chrome, url: str, number: str) -> str:
    browser.delete_all_cookies()
    browser.get(url + "/orders")
    browser.find_element(By.ID, "user").send_keys("urban.e2e")
    browser.find_element(By.ID, "password").send_keys(DEPARTMENT_PASSWORD)
    browser.find_element(By.ID, "login-button").click()
    open_order_page(browser, url, number)
    until(browser, seen.text_to_be_present_in_element((By.ID, "review-entries"), "路灯报修时限"))
    phone = browser.find_element(By.ID, "d-phone").text
    take_action(browser, "sign", "signed")
    take_action(browser, "reply", "replied", reply="已更换人民大街100号路灯灯泡，经核查已恢复照明")
    return phone


def centre_closes(browser: webdriver.Chrome, url: str, agent_pin: str, number: str) -> list[str]:
    browser.delete_all_cookies()
    browser.get(url + "/desk")
    browser.find_element(By.ID, "agent-id").send_keys("1024")
    browser.find_element(By.ID, "pin").send_keys(agent_pin)
    browser.find_element(By.ID, "login-button").click()
    until(browser, seen.visibility_of_element_located((By.ID, "agent-name")))
    open_order_page(browser, url, number)
    take_action(browser, "close", "closed")
    return [item.text for item in browser.find_elements(By.CSS_SELECTOR, "#d-history li")]


async def test_an_order_filed_during_a_call_is_signed_replied_and_closed_on_the_pages(
    hotline_on: Hotline, browser: webdriver.Chrome
) -> None:
    hotline = hotline_on
    pin, earlier = await prepare(hotline)
    await asyncio.to_thread(log_in_and_take_seat, browser, hotline.web_url, "1024", pin, "8024")
    async with hotline.softphone("8024") as softphone:
        connected = hotline.expect_ami_event(lambda name, f: name == "AgentConnect" and f.get("MemberName") == "1024")
        call = asyncio.create_task(hotline.citizen_call("12345", hang_up_after_ms=CONVERSATION_MS * 3,
                                                        caller=CALLER))
        event = await wait(connected, 20, "the call did not reach agent 1024", softphone)
        await asyncio.to_thread(until, browser, seen.visibility_of_element_located((By.ID, "screen-pop")))
        listed = await asyncio.to_thread(lambda: [li.text for li in browser.find_elements(By.CSS_SELECTOR,
                                                                                           "#pop-orders li")])
        done = await asyncio.to_thread(file_order_on_the_desk, browser)
        assert (await call).process.returncode == 0
    assert listed == [f"{earlier} · 已受理 · 1099 · 小区停水"], "the caller's open order is on the screen-pop"

    async with hotline.app[keys.ENGINE].connect() as connection:
        order = (await connection.execute(select(WorkOrder).join(OrderCall, OrderCall.order_id == WorkOrder.id)
                                          .where(OrderCall.call_uniqueid == event["Uniqueid"]))).one()
    assert done == f"已登记工单 {order.number} · 已派单"
    assert (order.caller_number, order.agent, order.topic, order.type, order.address) == (
        CALLER, "1024", "0301", "complaint", "人民大街100号")

    phone = await asyncio.to_thread(department_signs_and_replies, browser, hotline.web_url, order.number)
    assert phone == CALLER, "the department sees the citizen of an ordinary order, to contact them"
    history = await asyncio.to_thread(centre_closes, browser, hotline.web_url, pin, order.number)
    assert len(history) == 5 and "close" in history[-1]

    async with hotline.app[keys.ENGINE].connect() as connection:
        status, reply = (await connection.execute(select(WorkOrder.status, WorkOrder.reply)
                                                  .where(WorkOrder.id == order.id))).one()
        lead = (await connection.execute(select(OrderDepartment).where(OrderDepartment.order_id == order.id))).one()
        actors = (await connection.execute(select(OrderEvent.action, OrderEvent.actor).where(
            OrderEvent.order_id == order.id).order_by(OrderEvent.id))).all()
    assert status == "closed" and reply is not None and reply.startswith("已更换")
    assert lead.signed_at is not None and lead.replied_at is not None and lead.done
    assert [tuple(a) for a in actors] == [("create", "1024"), ("dispatch", "1024"), ("sign", "urban.e2e"),
                                         ("reply", "urban.e2e"), ("close", "1024")]


def correct_accept_and_dispatch(browser: webdriver.Chrome, url: str, agent_pin: str, number: str) -> str:
    browser.get(url + "/desk")
    browser.find_element(By.ID, "agent-id").send_keys("1025")
    browser.find_element(By.ID, "pin").send_keys(agent_pin)
    browser.find_element(By.ID, "login-button").click()
    until(browser, seen.visibility_of_element_located((By.ID, "agent-name")))
    open_order_page(browser, url, number)
    edit = browser.find_element(By.ID, "edit")
    Select(edit.find_element(By.NAME, "type")).select_by_value("complaint")
    Select(edit.find_element(By.NAME, "topic")).select_by_value("0501")
    edit.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    until(browser, lambda driver: any("edit" in li.text for li in driver.find_elements(By.CSS_SELECTOR,
                                                                                      "#d-history li")))
    take_action(browser, "accept", "accepted")
    form = browser.find_element(By.CSS_SELECTOR, "form[data-action='dispatch']")
    Select(form.find_element(By.NAME, "department")).select_by_value("water")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    until(browser, lambda driver: driver.find_element(By.ID, "d-status").get_attribute("data-state") == "dispatched")
    return browser.find_element(By.ID, "d-due").text


async def test_a_draft_from_the_web_is_corrected_accepted_and_dispatched_on_the_orders_page(
    hotline: Hotline, browser: webdriver.Chrome
) -> None:
    await load_directory(hotline.app[keys.DIRECTORY], read_directory(STARTER_DIRECTORY))
    pin = await hotline.ensure_agent("1025", "周九") or await hotline.app[keys.AGENT_STORE].reset_pin("1025")
    draft = await hotline.app[keys.ORDERS].create(
        Intake("api", "我们小区停水两天了", caller_number="13700137000", client="wechat", accepted=False),
        Actor("wechat", "api"), datetime.now(UTC))
    assert draft.number is not None
    due = await asyncio.to_thread(correct_accept_and_dispatch, browser, hotline.web_url, pin, draft.number)
    async with hotline.app[keys.ENGINE].connect() as connection:
        row = (await connection.execute(select(WorkOrder).where(WorkOrder.id == draft.id))).one()
        actions = (await connection.execute(select(OrderEvent.action).where(OrderEvent.order_id == draft.id)
                                            .order_by(OrderEvent.id))).scalars().all()
    assert (row.status, row.type, row.topic) == ("dispatched", "complaint", "0501")
    assert actions == ["create", "edit", "accept", "dispatch"] and due != "—"
