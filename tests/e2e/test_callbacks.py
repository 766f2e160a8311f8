"""Missed calls (漏接回拨): each becomes one callback a day, dialled through the carrier when an agent is free."""

from __future__ import annotations

import asyncio
from typing import cast

import aiohttp
import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen

from ivr import keys
from ivr.callbacks.store import CallbackStore
from ivr.democall import Sipp
from tests.e2e.browser import until
from tests.e2e.test_desk_voicemail import log_in as log_in_on_desk
from tests.helpers import CARRIER_IP, Hotline, log_in, run_sipp, wait

pytestmark = [pytest.mark.asterisk, pytest.mark.dials_callbacks]
CITIZEN_PHONE_PORT = 15070  # the carrier contact in the test settings
NUMBER = "13500135000"


async def test_a_missed_call_is_called_back_once_an_agent_is_free(hotline: Hotline) -> None:
    store = CallbackStore(hotline.app[keys.ENGINE])
    recorded: asyncio.Queue[str] = asyncio.Queue()
    hotline.app[keys.CALLBACKS].recorded_listeners.append(recorded.put_nowait)
    for _ in range(2):  # no agent: the citizen gives up twice
        call = await hotline.unanswered_call("12345", hang_up_after_ms=6_000, caller=NUMBER)
        assert call.outcome == "abandoned"
        assert await wait(recorded.get(), 5, "the missed call was not turned into a callback") == NUMBER
    callbacks = await store.for_number(NUMBER)
    assert len(callbacks) == 1, "one callback per number per day"
    assert (callbacks[0].status, callbacks[0].attempts) == ("pending", 0)

    phone = Sipp(scenario="citizen_answers_callback.xml", target="", local_ip=CARRIER_IP,
                 local_port=CITIZEN_PHONE_PORT, pause_ms=14_000, timeout_s=60)
    async with run_sipp(phone) as citizen:
        connected = hotline.expect_ami_event(lambda name, f: name == "AgentConnect" and f.get("MemberName") == "1035")
        async with hotline.agent("8035"):
            event = await wait(connected, 30, "the callback did not reach agent 1035", citizen)
            assert await citizen.finished() == 0, citizen.errors
    [callback] = await store.for_number(NUMBER)
    assert (callback.status, callback.attempts, callback.last_result) == ("answered", 1, "answered")
    assert callback.channel_uniqueid == event["Uniqueid"] and callback.agent == "1035"


# Caller ids that reached the hotline and were dialled back before issue 15: an international number, an
# international premium network and the police.
FRAUD = ("0090123456789", "+88213000000", "110")
CALLED_BACK = "13600136000"


class CarrierPhone(asyncio.DatagramProtocol):
    """The carrier's side of calls out (the test settings' carrier contact): notes the number of each INVITE and
    answers it 486 Busy Here, so an attempt ends at once and nothing rings on into other tests."""

    def __init__(self) -> None:
        self.dialled: list[str] = []
        self.invited: asyncio.Queue[str] = asyncio.Queue()
        self.calls: set[str] = set()
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        head, *lines = data.decode(errors="replace").split("\r\n\r\n")[0].split("\r\n")
        if not head.startswith("INVITE ") or self.transport is None:
            return  # the ACK of our answer
        headers = [line for line in lines if line.split(":")[0].lower() in ("via", "from", "to", "call-id", "cseq")]
        call_id = next(line.split(":", 1)[1].strip() for line in headers if line.lower().startswith("call-id"))
        if call_id not in self.calls:  # not a retransmission
            self.calls.add(call_id)
            number = head.split()[1].removeprefix("sip:").split("@")[0]
            self.dialled.append(number)
            self.invited.put_nowait(number)
        answer = [f"{line};tag=busy" if line.lower().startswith("to:") else line for line in headers]
        self.transport.sendto("\r\n".join(["SIP/2.0 486 Busy Here", *answer, "Content-Length: 0", "", ""]).encode(),
                              addr)


def desk_shows(driver: webdriver.Chrome, number: str, status: str) -> None:
    """The agent's desk lists the number's callback with its status (and why it is not dialled)."""
    css = f'#cb-list li[data-number="{number}"] .cb-status'
    until(driver, seen.text_to_be_present_in_element((By.CSS_SELECTOR, css), status))


async def test_callbacks_to_foreign_premium_and_emergency_numbers_are_shown_never_dialled(
    hotline: Hotline, browser: webdriver.Chrome
) -> None:
    store = CallbackStore(hotline.app[keys.ENGINE])
    recorded: asyncio.Queue[str] = asyncio.Queue()
    hotline.app[keys.CALLBACKS].recorded_listeners.append(recorded.put_nowait)
    transport, phone = await asyncio.get_running_loop().create_datagram_endpoint(
        CarrierPhone, local_addr=(CARRIER_IP, CITIZEN_PHONE_PORT))
    pin = await hotline.ensure_agent("1037") or await hotline.app[keys.AGENT_STORE].reset_pin("1037")
    try:
        # No agent: four citizens give up; the one to call back last, so that its callback is due after the others.
        gave_up = [hotline.citizen_call("12345", hang_up_after_ms=6_000, caller=number) for number in FRAUD]
        await asyncio.gather(*gave_up, hotline.citizen_call("12345", hang_up_after_ms=8_000, caller=CALLED_BACK))
        numbers = {await wait(recorded.get(), 10, "a missed call was not turned into a callback") for _ in range(4)}
        assert numbers == {*FRAUD, CALLED_BACK}

        attempt = hotline.expect_ami_event(lambda name, f: name == "OriginateResponse")
        async with hotline.agent("8037"), aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as desk:
            assert await wait(phone.invited.get(), 20, "the citizen's mobile was not called back") == CALLED_BACK
            assert (await wait(attempt, 10, "the callback's attempt did not end"))["Response"] == "Failure"
            await log_in(desk, hotline.web_url + "/api/session", {"agent_id": "1037", "pin": pin})
            async with desk.get(hotline.web_url + "/api/callbacks") as response:
                listed = {item["number"]: item for item in (await response.json())["callbacks"]}
    finally:
        transport.close()

    assert phone.dialled == [CALLED_BACK], "only the mobile number reached the carrier"
    for number, kind in zip(FRAUD, ("international", "premium", "emergency"), strict=True):
        [callback] = await store.for_number(number)
        assert (callback.status, callback.last_result, callback.attempts) == ("not_dialled", kind, 0)
        assert listed[number]["status_label"] == "不予回拨" and listed[number]["not_dialled_because"] == kind
    assert listed["110"]["not_dialled_label"] == "紧急号码"
    await asyncio.to_thread(log_in_on_desk, browser, hotline.web_url, "1037", pin)
    await asyncio.to_thread(desk_shows, browser, "110", "不予回拨 · 紧急号码")
    await asyncio.to_thread(desk_shows, browser, "+88213000000", "不予回拨 · 声讯/付费号码")
    [callback] = await store.for_number(CALLED_BACK)
    assert (callback.status, callback.attempts) == ("pending", 1), "tried once, to be tried again"
