"""The desk's voicemail panel in real headless Chromium: a recording taken in through the ingester (as the hang-up
handler reports it), transcribed by the server's real worker (Vosk), listened to beside its transcript, corrected
and dispatched; a corrupt recording shown as failed, with its reason, and transcribed again on request."""

from __future__ import annotations

import asyncio
import dataclasses
import math
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import Select
from sqlalchemy import func, select

from ivr import keys
from ivr.asterisk.process import AsteriskProcess
from ivr.db.models import Attachment, Department, OrderEvent, Transcript, TranscriptionJob, WorkOrder
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.workorders.admin import STARTER_DIRECTORY, load_directory, read_directory
from tests.e2e.browser import until
from tests.helpers import Hotline, start_hotline

pytestmark = pytest.mark.asterisk
CALLER = "13800138123"
SPOKEN = "안녕하세요 우리 집 앞 가로등이 고장났어요 빨리 고쳐 주세요"
TRANSCRIBED = 120  # seconds: the speech model loads at the server's first voicemail, then decodes it


def spoken_recording(directory: Path) -> tuple[bytes, float]:
    """The caller's words as Asterisk records them (8 kHz, 16-bit, mono WAV); and their length as sox reads it."""
    spoken, recording = directory / "spoken.wav", directory / "recording.wav"
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(spoken), SPOKEN], check=True)
    # -D: no dither, so that the same words make the same recording (and the same transcript) every run
    subprocess.run(["sox", "-D", str(spoken), "-r", "8000", "-b", "16", "-c", "1", str(recording)], check=True)
    seconds = subprocess.run(["soxi", "-D", str(recording)], capture_output=True, text=True, check=True).stdout
    return recording.read_bytes(), float(seconds)


@asynccontextmanager
async def voicemail_left(hotline: Hotline, audio: bytes, caller: str = CALLER) -> AsyncIterator[int]:
    """A recording in the hotline's voicemail folder, reported by the hang-up handler: the draft's id. The file is
    removed afterwards (the folder is Asterisk's, shared with the next tests' servers)."""
    ingester = hotline.app[keys.VOICEMAIL_INGESTER]
    uniqueid = f"desk-vm-{uuid.uuid4().hex[:12]}"
    path = ingester.folder / f"{uniqueid}.wav"
    await asyncio.to_thread(ingester.folder.mkdir, parents=True, exist_ok=True)
    await asyncio.to_thread(path.write_bytes, audio)
    try:
        order_id = await ingester.reported(uniqueid, caller)
        assert order_id is not None, "the recording was not taken in"
        yield order_id
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


async def prepare(hotline: Hotline) -> str:
    """The starter directory (catalogue and departments) and an agent; the agent's PIN."""
    await load_directory(hotline.app[keys.DIRECTORY], read_directory(STARTER_DIRECTORY))
    pin = await hotline.ensure_agent("1051", "赵六")
    assert pin is not None
    return pin


async def stored(hotline: Hotline, query: Any) -> Any:
    async with hotline.app[keys.ENGINE].connect() as connection:
        return (await connection.execute(query)).one()


def log_in(driver: webdriver.Chrome, url: str, agent_id: str, pin: str) -> None:
    """The agent logs in on the desk without taking a seat: the voicemail panel is there all the same."""
    driver.get(url + "/desk")
    driver.find_element(By.ID, "agent-id").send_keys(agent_id)
    driver.find_element(By.ID, "pin").send_keys(pin)
    driver.find_element(By.ID, "login-button").click()
    until(driver, seen.visibility_of_element_located((By.ID, "voicemail")))


def item(order_id: int) -> str:
    return f'#vm-list li[data-order-id="{order_id}"]'


def read(driver: webdriver.Chrome, script: str, *args: Any) -> Any:
    """A value read in the page in one step (the list is rebuilt whenever the server says a voicemail changed)."""
    return driver.execute_script(script, *args)


def item_state(driver: webdriver.Chrome, order_id: int) -> str | None:
    return read(driver, "const row = document.querySelector(arguments[0]); return row ? row.dataset.state : null;",
                item(order_id))  # type: ignore[no-any-return]


def click(driver: webdriver.Chrome, css: str) -> None:
    def clicked(found: webdriver.Chrome) -> bool:
        try:
            found.find_element(By.CSS_SELECTOR, css).click()
        except (NoSuchElementException, StaleElementReferenceException):
            return False
        return True

    until(driver, clicked)


def until_stored(driver: webdriver.Chrome, loop: asyncio.AbstractEventLoop, check: Callable[[], Awaitable[bool]],
                 seconds: float) -> None:
    """Waits (from a selenium thread) until a check on the database, run on the server's loop, holds."""
    until(driver, lambda _: asyncio.run_coroutine_threadsafe(check(), loop).result(10), seconds)


async def test_a_voicemail_is_heard_beside_its_transcript_and_dispatched_from_the_desk(
    hotline: Hotline, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    pin = await prepare(hotline)
    audio, seconds = await asyncio.to_thread(spoken_recording, tmp_path)
    await asyncio.to_thread(log_in, browser, hotline.web_url, "1051", pin)

    async with voicemail_left(hotline, audio) as order_id:
        # Listed as soon as it is taken in, then transcribed by the server's worker: pushed, never polled.
        await asyncio.to_thread(until, browser, lambda d: item_state(d, order_id) is not None)
        await asyncio.to_thread(until, browser, lambda d: item_state(d, order_id) == "done", TRANSCRIBED)
        transcript = await stored(hotline, select(Transcript.text, Transcript.confidence)
                                  .where(Transcript.order_id == order_id))
        recording = await stored(hotline, select(Attachment.id).where(
            Attachment.order_id == order_id, Attachment.kind == "recording"))
        urban = await stored(hotline, select(Department.id).where(Department.code == "urban"))
        street = await stored(hotline, select(Department.id).where(Department.code == "street.nanguan.ziyou"))
        listed = await asyncio.to_thread(lambda: browser.find_element(By.CSS_SELECTOR, item(order_id)).text)
        assert CALLER in listed and "已转写" in listed
        assert transcript.text and transcript.text.split()[0] in listed, "the transcript's first words are listed"

        await asyncio.to_thread(click, browser, item(order_id))
        await asyncio.to_thread(until, browser, seen.visibility_of_element_located((By.ID, "vm-review")))
        # The browser loads the recording from the attachment's address, as the agent's player would.
        await asyncio.to_thread(until, browser, lambda d: read(
            d, "return document.getElementById('vm-audio').readyState;") >= 1)
        source, duration = await asyncio.to_thread(read, browser, """
            const audio = document.getElementById('vm-audio');
            return [audio.src, audio.duration];""")
        assert source == f"{hotline.web_url}/api/orders/{order_id}/attachments/{recording.id}"
        assert abs(duration - seconds) < 0.1, f"the player reads {duration} s of a {seconds} s recording"

        shown, confidence, prefilled = await asyncio.to_thread(read, browser, """
            return [document.getElementById('vm-transcript').textContent,
                    document.getElementById('vm-confidence').textContent,
                    document.getElementById('vm-content').value];""")
        assert shown == transcript.text
        assert f"{math.floor(transcript.confidence * 100 + 0.5)}%" in confidence
        assert prefilled == transcript.text, "the draft's content is the transcript until the agent corrects it"
        player, words = await asyncio.to_thread(read, browser, """
            const box = (id) => document.getElementById(id).getBoundingClientRect();
            const [a, b] = [box('vm-audio'), box('vm-transcript')];
            return [[a.left, a.right, a.top, a.bottom], [b.left, b.right, b.top, b.bottom]];""")
        assert player[1] <= words[0], f"the player {player} is left of the transcript {words}"
        assert player[2] < words[3] and words[2] < player[3], f"the player {player} is beside the transcript {words}"
        await asyncio.to_thread(browser.save_screenshot, str(tmp_path / "voicemail-review.png"))

        def correct_and_dispatch() -> str:
            Select(browser.find_element(By.ID, "vm-topic")).select_by_value("0301")
            preselected = Select(browser.find_element(By.ID, "vm-department")).first_selected_option
            assert preselected.get_attribute("value") == "urban", "the topic's department is preselected"
            Select(browser.find_element(By.ID, "vm-department")).select_by_value("street.nanguan.ziyou")
            content = browser.find_element(By.ID, "vm-content")
            content.clear()
            content.send_keys("路灯坏了，晚上很黑，请尽快修理")
            browser.find_element(By.ID, "vm-address").send_keys("南关区自由大路1号")
            browser.find_element(By.ID, "vm-dispatch").click()
            until(browser, lambda d: d.find_element(By.ID, "vm-done").get_attribute("data-state") == "dispatched")
            until(browser, lambda d: item_state(d, order_id) is None)
            assert not browser.find_element(By.ID, "vm-review").is_displayed()
            return browser.find_element(By.ID, "vm-done").text

        done = await asyncio.to_thread(correct_and_dispatch)
        order = await stored(hotline, select(WorkOrder).where(WorkOrder.id == order_id))
        assert (order.status, order.lead_department_id, order.topic) == ("dispatched", street.id, "0301")
        assert street.id != urban.id
        assert order.content == "路灯坏了，晚上很黑，请尽快修理" and order.address == "南关区自由大路1号"
        assert order.number in done and "已派单" in done
    # No script error nor refused request on the way (but the desk's look for a session before the log-in).
    logs = await asyncio.to_thread(browser.get_log, "browser")
    expected = ("favicon.ico", "/api/me - Failed to load resource: the server responded with a status of 401")
    assert not [e for e in logs if e["level"] == "SEVERE" and not any(x in e["message"] for x in expected)], logs


async def test_a_corrupt_voicemail_shows_as_failed_with_its_reason_and_is_transcribed_again_on_request(
    hotline: Hotline, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    pin = await prepare(hotline)
    await asyncio.to_thread(log_in, browser, hotline.web_url, "1051", pin)

    async with voicemail_left(hotline, b"not a wav", caller="13800138124") as order_id:
        await asyncio.to_thread(until, browser, lambda d: item_state(d, order_id) == "failed", TRANSCRIBED)
        job = await stored(hotline, select(TranscriptionJob.reason).where(TranscriptionJob.order_id == order_id))
        assert "not a readable WAV" in job.reason
        row = await asyncio.to_thread(browser.find_element, By.CSS_SELECTOR, item(order_id))
        assert job.reason in await asyncio.to_thread(lambda: row.text)
        assert "转写失败" in await asyncio.to_thread(lambda: row.text)
        failed = await asyncio.to_thread(lambda: browser.find_element(By.ID, "vm-failed").text)
        assert int(failed) >= 1
        await asyncio.to_thread(browser.save_screenshot, str(tmp_path / "voicemail-failed.png"))

        async def failed_twice() -> bool:
            async with hotline.app[keys.ENGINE].connect() as connection:
                count = (await connection.execute(select(func.count()).select_from(OrderEvent).where(
                    OrderEvent.order_id == order_id, OrderEvent.action == "transcription_failed"))).scalar_one()
            return bool(count == 2)

        loop = asyncio.get_running_loop()
        await asyncio.to_thread(click, browser, item(order_id) + " button.vm-retry")
        await asyncio.to_thread(until_stored, browser, loop, failed_twice, TRANSCRIBED)
        await asyncio.to_thread(until, browser, lambda d: item_state(d, order_id) == "failed")
        text = await asyncio.to_thread(lambda: browser.find_element(By.CSS_SELECTOR, item(order_id)).text)
        assert job.reason in text and "转写失败" in text

        def in_english() -> tuple[str, str]:
            browser.find_element(By.ID, "locale").click()
            until(browser, seen.text_to_be_present_in_element((By.CSS_SELECTOR, "#voicemail h2"), "Voicemail"))
            return (browser.find_element(By.CSS_SELECTOR, item(order_id)).text,
                    browser.find_element(By.ID, "vm-summary").text)

        row_text, summary = await asyncio.to_thread(in_english)
        assert "transcription failed" in row_text and "Transcribe again" in row_text
        assert "failed 1" in summary


async def test_without_a_speech_model_the_desk_says_why_voicemails_wait(
    asterisk: AsteriskProcess, settings: Settings, secrets: Secrets, browser: webdriver.Chrome, tmp_path: Path
) -> None:
    nowhere = dataclasses.replace(settings.transcription, model_path=str(tmp_path / "no-model"))
    async with start_hotline(dataclasses.replace(settings, transcription=nowhere), secrets, asterisk) as hotline:
        pin = await prepare(hotline)
        await asyncio.to_thread(log_in, browser, hotline.web_url, "1051", pin)
        async with voicemail_left(hotline, b"RIFF", caller="13800138125") as order_id:
            await asyncio.to_thread(until, browser, lambda d: item_state(d, order_id) == "queued")

            def shown() -> tuple[str, str, str]:
                until(browser, seen.text_to_be_present_in_element((By.ID, "vm-problem"), "no usable speech model"))
                problem = browser.find_element(By.ID, "vm-problem")
                return (problem.text, problem.value_of_css_property("color"),
                        browser.find_element(By.ID, "vm-queued").text)

            problem, color, queued = await asyncio.to_thread(shown)
        # The desk's socket closed before this server stops (the hotline fixture's browser goes first, too): an open
        # one keeps aiohttp's shutdown waiting for its handler.
        await asyncio.to_thread(read, browser, "state = null; socket.close();")
        await asyncio.to_thread(until, browser, lambda d: read(d, "return socket.readyState;") == 3)
    assert str(tmp_path / "no-model") in problem
    assert color == "rgba(183, 28, 28, 1)", "the problem is shown in red"
    assert queued == "1"
