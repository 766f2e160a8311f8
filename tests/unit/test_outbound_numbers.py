"""Toll fraud (issue 15, hole 3): only numbers of the national plan that the settings allow are ever dialled —
callbacks, return visits, campaigns and the hand-off all go out through one Originate that refuses the rest."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.ami.originate import NotDialled, Originator, OutboundCall
from ivr.ami.queue_state import QueueState
from ivr.callbacks.dialer import CallbackDialer
from ivr.callbacks.routes import shown
from ivr.callbacks.store import CallbackStore
from ivr.campaigns.store import CampaignStore, NewCampaign
from ivr.db.models import Callback, Campaign, Survey
from ivr.settings import OutboundSettings, Settings, SettingsError, SurveySettings, load_settings
from ivr.surveys.dialer import SurveyDialer
from ivr.surveys.store import SurveyStore
from ivr.workorders.directory import Directory
from routing.dialable import Kind, classify

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # noon in Beijing: inside the survey windows
BEIJING = "10"
MOBILE = "13800138000"
# Caller ids a missed call or a campaign list brought in, and must never be dialled.
FRAUD = ("0090123456789", "+88213000000", "110")


@pytest.mark.parametrize(("number", "kind"), [
    ("13800138000", Kind.MOBILE), ("+86 138-0013-8000", Kind.MOBILE), ("008613800138000", Kind.MOBILE),
    ("19012345678", Kind.MOBILE),
    ("010-87654321", Kind.CITY_FIXED), ("87654321", Kind.CITY_FIXED), ("01012345678", Kind.CITY_FIXED),
    ("+861087654321", Kind.CITY_FIXED),
    ("075587654321", Kind.OTHER_FIXED), ("02187654321", Kind.OTHER_FIXED),
    ("110", Kind.EMERGENCY), ("119", Kind.EMERGENCY), ("120", Kind.EMERGENCY), ("122", Kind.EMERGENCY),
    ("12110", Kind.EMERGENCY), ("+86110", Kind.EMERGENCY), ("010110", Kind.EMERGENCY),
    ("12345", Kind.SERVICE), ("10086", Kind.SERVICE), ("95588", Kind.SERVICE), ("4001234567", Kind.SERVICE),
    ("01012345", Kind.SERVICE),
    ("19001234567", Kind.PREMIUM), ("1900123", Kind.PREMIUM), ("16812345678", Kind.PREMIUM),
    ("1259012345", Kind.PREMIUM), ("179510090123456", Kind.PREMIUM), ("+88213000000", Kind.PREMIUM),
    ("0088213000000", Kind.PREMIUM), ("+979123456789", Kind.PREMIUM),
    ("0090123456789", Kind.INTERNATIONAL), ("+12025550100", Kind.INTERNATIONAL), ("00447700900123", Kind.INTERNATIONAL),
    ("", Kind.MALFORMED), ("abc", Kind.MALFORMED), ("1" * 200, Kind.MALFORMED), ("0086138001380001", Kind.MALFORMED),
    ("1380013800", Kind.MALFORMED), ("00", Kind.MALFORMED), ("+", Kind.MALFORMED),
])
def test_each_number_has_its_kind(number: str, kind: Kind) -> None:
    assert classify(number, BEIJING).kind == kind


def test_a_fixed_line_is_the_citys_only_with_the_citys_area_code() -> None:
    assert classify("075587654321", "755").kind == Kind.CITY_FIXED
    assert classify("01087654321", "755").kind == Kind.OTHER_FIXED
    assert classify("+8613800138000", BEIJING).digits == MOBILE, "dialled in the national form"
    assert classify("+90 123 456 789", BEIJING).digits == "0090123456789"


def test_the_allowed_kinds_are_checked_and_named_on_a_bad_value() -> None:
    assert load_settings(environ={}).outbound.allowed_kinds == ("mobile", "city_fixed")
    with pytest.raises(SettingsError, match="outbound.allowed_kinds"):
        load_settings(environ={"HOTLINE_OUTBOUND_ALLOWED_KINDS": '["mobile", "everything"]'})
    with pytest.raises(SettingsError, match="outbound.area_code"):
        load_settings(environ={"HOTLINE_OUTBOUND_AREA_CODE": "010"})


class FakeAmi:
    """Records the actions sent; one free agent on the default line, nobody waiting."""

    def __init__(self, settings: Settings) -> None:
        self.actions: list[dict[str, str]] = []
        self.connected = True
        self.queue_state = QueueState()
        queue = settings.line_queue(settings.routing.default_line)
        self.queue_state.replace([{"Event": "QueueMember", "Queue": queue, "Name": "1001", "Location": "PJSIP/8001",
                                   "StateInterface": "PJSIP/8001", "Status": "1", "Paused": "0", "CallsTaken": "0"}])

    async def action(self, fields: dict[str, str], **_: Any) -> dict[str, str]:
        self.actions.append(fields)
        return {"Response": "Success"}


def dialled(ami: FakeAmi) -> list[str]:
    return [action["Channel"] for action in ami.actions if action["Action"] == "Originate"]


@pytest.fixture
def settings() -> Settings:
    base = load_settings(environ={"HOTLINE_SIP_CARRIER_CONTACT": "sip:127.0.0.2:15070"})
    return dataclasses.replace(base, surveys=dataclasses.replace(base.surveys, windows=("08:00-20:00",)))


async def test_the_one_originate_refuses_what_the_rules_refuse(settings: Settings) -> None:
    ami = FakeAmi(settings)
    originator = Originator(settings, ami)  # type: ignore[arg-type]
    for number in FRAUD:
        with pytest.raises(NotDialled):
            await originator.originate(OutboundCall(number, "callback", "hotline-callback", "12345", 30))
    with pytest.raises(NotDialled):  # a hand-off reaches the emergency services only
        await originator.originate(OutboundCall(MOBILE, "handoff", "hotline-conference", "12345", 60))
    await originator.originate(OutboundCall("+86 138 0013 8000", "callback", "hotline-callback", "12345", 30))
    await originator.originate(OutboundCall("110", "handoff", "hotline-conference", "12345", 60, exten="1.1"))
    assert dialled(ami) == [f"PJSIP/{MOBILE}@carrier", "PJSIP/110@carrier"]
    assert originator.refused == {("callback", "international"): 1, ("callback", "premium"): 1,
                                  ("callback", "emergency"): 1, ("handoff", "mobile"): 1}

    other_city = dataclasses.replace(settings, outbound=OutboundSettings(allowed_kinds=("mobile", "city_fixed",
                                                                                        "other_fixed")))
    await Originator(other_city, ami).originate(  # type: ignore[arg-type]
        OutboundCall("075587654321", "survey", "hotline-survey", "12345", 30))
    assert dialled(ami)[-1] == "PJSIP/075587654321@carrier", "other cities once the settings allow them"


async def test_a_missed_call_from_a_refused_number_is_recorded_not_dialled_with_its_reason(
    engine: AsyncEngine, settings: Settings
) -> None:
    ami = FakeAmi(settings)
    store = CallbackStore(engine)
    dialer = CallbackDialer(settings, ami, store)  # type: ignore[arg-type]
    for number in (*FRAUD, MOBILE):
        dialer.call_written({"uniqueid": f"u-{number}", "caller_number": number, "outcome": "abandoned",
                             "started_at": datetime.now(UTC), "ended_at": datetime.now(UTC)})
    await dialer.background.finish(timeout=5)
    # One left pending by a server before the rules (the hole): refused at dial time, never claimed.
    async with engine.begin() as connection:
        await connection.execute(insert(Callback).values(
            number="16812345678", reason="missed", day="2026-12-07", origin_uniqueid="old", status="pending",
            attempts=0, next_attempt_at=NOW, created_at=NOW, updated_at=NOW))

    await dialer.dial_what_is_allowed()
    await dialer.dial_what_is_allowed()

    assert dialled(ami) == [f"PJSIP/{MOBILE}@carrier"]
    async with engine.connect() as connection:
        rows = {row.number: row for row in (await connection.execute(select(Callback))).all()}
    assert {number: (rows[number].status, rows[number].last_result, rows[number].attempts) for number in rows} == {
        "0090123456789": ("not_dialled", "international", 0), "+88213000000": ("not_dialled", "premium", 0),
        "110": ("not_dialled", "emergency", 0), "16812345678": ("not_dialled", "premium", 0),
        MOBILE: ("dialling", None, 1)}
    listed = shown(Callback(**rows["110"]._asdict()))
    assert (listed["status_label"], listed["not_dialled_label"]) == ("不予回拨", "紧急号码")


async def test_the_survey_dialer_never_calls_a_refused_number(engine: AsyncEngine, settings: Settings) -> None:
    ami = FakeAmi(settings)
    store = SurveyStore(engine)
    async with engine.begin() as connection:
        campaign_id = (await connection.execute(insert(Campaign).values(
            name="t", script="public_evaluation", channels="phone", status="running", quotas=json.dumps({}),
            created_by="t", created_at=NOW).returning(Campaign.id))).scalar_one()
        await connection.execute(insert(Survey), [dict(
            campaign_id=campaign_id, unit="urban", line=line, number=number, script="public_evaluation",
            status="due", next_action="call", next_at=NOW, closed_at=NOW, calls=0, texted=False, appeal="none",
            round=1, created_at=NOW, updated_at=NOW) for line, number in enumerate((*FRAUD, MOBILE))])

    async def no_order(_order_id: int) -> None:
        return None

    dialer = SurveyDialer(dataclasses.replace(settings, surveys=SurveySettings(windows=("08:00-20:00",))),
                          ami, store, no_order)  # type: ignore[arg-type]
    dialer.clock = lambda: NOW
    await dialer.round()

    assert dialled(ami) == [f"PJSIP/{MOBILE}@carrier"]
    async with engine.connect() as connection:
        ended = dict((await connection.execute(select(Survey.number, Survey.last_result))).all())
    assert ended["0090123456789"] == "not_dialled: international number"
    assert ended["+88213000000"] == "not_dialled: premium number" and ended["110"] == "not_dialled: emergency number"


async def test_a_campaign_list_keeps_refused_numbers_out_at_the_import(engine: AsyncEngine, tmp_path: Path) -> None:
    await Directory(engine).add_department("urban", "城管局")
    store = CampaignStore(engine, tmp_path / "campaigns", outbound=OutboundSettings())
    text = "号码,单位\n0090123456789,urban\n+88213000000,urban\n110,urban\n16812345678,urban\n075587654321,urban\n" \
           f"{MOBILE},urban\n"
    result = await store.create(NewCampaign("评议", "public_evaluation", "phone", {}, "lead"), text, NOW)

    assert result.imported == 1
    assert [(problem.line, problem.problem.split(":")[0]) for problem in result.problems] == [
        (2, "'0090123456789' is an international number (+ or 00 and another country's code)"),
        (3, "'+88213000000' is an international number (+ or 00 and another country's code)"),
        (4, "'110' is not an 11-digit mobile number (13x–19x)"),
        (5, "16812345678 is not called"), (6, "075587654321 is not called")]
    assert "a number of kind premium" in result.problems[3].problem
