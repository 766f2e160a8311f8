"""Campaigns in the database, on SQLite and PostgreSQL: a list imported with its broken rows reported by line and
kept (the rest imported as due surveys), duplicates and do-not-contact numbers, quotas and bad input refused
with what is wrong, state changes by conditional updates (refused with the reason), cancelling, finishing when no
number is left, progress and results per unit and question with the satisfaction rate, and the CSV exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr.campaigns.errors import BadCampaign, CampaignNotFound, CampaignRefused
from ivr.campaigns.store import CampaignStore, Imported, NewCampaign
from ivr.db.models import Campaign, Survey
from ivr.surveys.store import SurveyStore
from ivr.workorders.directory import Directory
from routing import return_visits as visits
from routing.campaign_list import Problem

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
LIST = ("号码,单位,姓名\n"
        "13900000001,urban,张三\n"           # 2
        "13900000002,urban\n"                # 3
        "1390000000x,urban\n"                # 4: not a number
        "13900000003,nowhere\n"              # 5: no such unit
        "13900000004,water,李四\n"           # 6
        "139 0000 0001,water\n"              # 7: the number of line 2 again
        "13900000005\n"                      # 8: no unit
        "13900000006,water\n"                # 9: on the do-not-contact list
        "010-12345678,water,王五\n"          # 10: a landline
        "13900000007,urban\n")               # 11


@pytest.fixture
async def store(engine: AsyncEngine, tmp_path: Path) -> CampaignStore:
    directory = Directory(engine)
    await directory.add_department("urban", "城管局")
    await directory.add_department("water", "水务局")
    await directory.add_department("market", "市场监管局")
    await SurveyStore(engine).add_do_not_contact("13900000006", "citizen asked", "1001", NOW)
    return CampaignStore(engine, tmp_path / "campaigns")


def new(**changes: object) -> NewCampaign:
    fields: dict[str, object] = {"name": "2026年第四季度政务服务评议", "script": "public_evaluation",
                                 "channels": "phone,sms", "quotas": {"urban": 2}, "created_by": "lead"}
    return NewCampaign(**(fields | changes))  # type: ignore[arg-type]


async def surveys(engine: AsyncEngine, campaign_id: int) -> list[Survey]:
    async with engine.connect() as connection:
        rows = (await connection.execute(
            select(Survey).where(Survey.campaign_id == campaign_id).order_by(Survey.line))).all()
    return [Survey(**row._asdict()) for row in rows]


async def count(engine: AsyncEngine, table: type) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(select(func.count()).select_from(table))).scalar_one())


async def imported(store: CampaignStore, text: str = LIST, **changes: object) -> Imported:
    return await store.create(new(**changes), text, NOW)


async def test_a_list_is_imported_with_its_broken_rows_reported_by_line_and_kept(
        store: CampaignStore, engine: AsyncEngine, tmp_path: Path) -> None:
    result = await imported(store)

    assert [(p.line, p.problem) for p in result.problems] == [
        (4, "'1390000000x' holds more than digits"),
        (5, "no unit 'nowhere' in this campaign"),
        (7, "13900000001 is already on line 2: called once"),
        (8, "expected at least two columns: number, unit"),
        (9, "13900000006 asked not to be contacted (do-not-contact list)"),
    ]
    assert result.imported == 5
    campaign = result.campaign
    assert (campaign.name, campaign.script, campaign.channels, campaign.status, campaign.quotas,
            campaign.created_by, campaign.created_at, campaign.started_at) == (
        "2026年第四季度政务服务评议", "public_evaluation", "phone,sms", "ready", {"urban": 2}, "lead", NOW, None)
    rows = await surveys(engine, campaign.id)
    assert [(s.line, s.number, s.unit, s.name) for s in rows] == [
        (2, "13900000001", "urban", "张三"), (3, "13900000002", "urban", None), (6, "13900000004", "water", "李四"),
        (10, "01012345678", "water", "王五"), (11, "13900000007", "urban", None)]
    for survey in rows:
        assert (survey.status, survey.next_action, survey.calls, survey.texted, survey.appeal, survey.script,
                survey.order_id, survey.round) == ("due", "call", 0, False, "none", "public_evaluation", None, 1)
        assert survey.next_at is not None and survey.next_at.replace(tzinfo=UTC) == NOW
        assert survey.closed_at.replace(tzinfo=UTC) == NOW

    # Kept: the page and the CLI show them later, from another store (another process) as well.
    again = CampaignStore(engine, tmp_path / "campaigns")
    assert again.problems(campaign.id) == result.problems
    assert again.problems(campaign.id + 1) == []


async def test_the_dialer_takes_the_numbers_only_while_the_campaign_runs(store: CampaignStore,
                                                                         engine: AsyncEngine) -> None:
    campaign = (await imported(store)).campaign
    dialer = SurveyStore(engine)
    later = NOW + timedelta(minutes=1)
    assert await dialer.due("call", later, 100) == []
    await store.start(campaign.id, later)
    assert len(await dialer.due("call", later, 100)) == 5
    await store.pause(campaign.id, later)
    assert await dialer.due("call", later, 100) == []
    await store.resume(campaign.id, later)
    assert [s.number for s in await dialer.due("call", later, 2)] == ["13900000001", "13900000002"]


async def test_an_sms_only_campaign_texts_first_and_reports_landlines(store: CampaignStore,
                                                                    engine: AsyncEngine) -> None:
    result = await imported(store, channels="sms", quotas={})
    assert Problem(10, "01012345678 is a landline: an SMS cannot reach it, and this campaign only texts") \
        in result.problems
    assert result.imported == 4
    assert {(s.next_action, s.status) for s in await surveys(engine, result.campaign.id)} == {("sms", "due")}


async def test_a_number_imported_in_chunks_lands_once_in_one_transaction(engine: AsyncEngine,
                                                                        store: CampaignStore) -> None:
    chunked = CampaignStore(engine, store.problems_dir, chunk=2)
    text = "\n".join(f"1370000{i:04d},{'urban' if i % 2 else 'water'}" for i in range(1, 12))
    result = await chunked.create(new(quotas={}), text, NOW)
    assert result.imported == 11 and result.problems == []
    assert sorted(s.line or 0 for s in await surveys(engine, result.campaign.id)) == list(range(1, 12))

    # An import that breaks half way (here: a row inserted twice) leaves nothing behind.
    before = (await count(engine, Campaign), await count(engine, Survey))
    failing = CampaignStore(engine, store.problems_dir, chunk=2)
    original = failing._insert_surveys

    async def broken(connection, common, rows):  # type: ignore[no-untyped-def]
        await original(connection, common, rows)
        await original(connection, common, rows[:1])  # the same row twice: the unique constraint breaks

    failing._insert_surveys = broken  # type: ignore[method-assign]
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        await failing.create(new(quotas={}), text, NOW)
    assert (await count(engine, Campaign), await count(engine, Survey)) == before


@pytest.mark.parametrize(("changes", "message"), [
    ({"script": "quiz"}, "unknown script 'quiz': expected one of return_visit, public_evaluation"),
    ({"channels": "fax"}, "unknown channels 'fax': expected one of phone,sms, phone, sms"),
    ({"quotas": {"nowhere": 5}}, "no unit 'nowhere' to set a quota for"),
    ({"quotas": {"urban": 0}}, "the quota of urban must be a whole number of answers from 1"),
    ({"quotas": {"urban": "many"}}, "the quota of urban must be a whole number"),
    ({"name": "  "}, "the campaign needs a name"),
])
async def test_an_unknown_script_channel_or_unit_or_a_bad_quota_is_refused_and_nothing_is_created(
        store: CampaignStore, engine: AsyncEngine, changes: dict[str, object], message: str) -> None:
    with pytest.raises(BadCampaign, match=message.replace("(", r"\(").replace(")", r"\)")):
        await imported(store, **changes)
    assert (await count(engine, Campaign), await count(engine, Survey)) == (0, 0)


async def test_a_list_with_no_number_to_ask_is_refused_with_its_first_problem(store: CampaignStore,
                                                                             engine: AsyncEngine) -> None:
    with pytest.raises(BadCampaign, match=r"no number to ask \(2 problem line\(s\); the first: line 1: "):
        await store.create(new(), "garbage\n13900000001,nowhere\n", NOW)
    assert await count(engine, Campaign) == 0


async def test_state_changes_are_conditional_and_refused_with_the_reason(store: CampaignStore) -> None:
    campaign_id = (await imported(store)).campaign.id
    started = NOW + timedelta(hours=1)

    with pytest.raises(CampaignRefused, match="only a running campaign can be paused; this one is ready"):
        await store.pause(campaign_id, started)
    with pytest.raises(CampaignRefused, match="only a paused campaign can be resumed; this one is ready"):
        await store.resume(campaign_id, started)
    running = await store.start(campaign_id, started)
    assert (running.status, running.started_at) == ("running", started)
    with pytest.raises(CampaignRefused, match="the campaign is running already") as refused:
        await store.start(campaign_id, started)
    assert refused.value.status == 409 and refused.value.details == {"status": "running"}
    assert (await store.pause(campaign_id, started)).status == "paused"
    with pytest.raises(CampaignRefused, match="the campaign is paused already"):
        await store.pause(campaign_id, started)
    resumed = await store.resume(campaign_id, started + timedelta(hours=1))
    assert (resumed.status, resumed.started_at) == ("running", started), "started once, resumed since"
    assert (await store.pause(campaign_id, started)).status == "paused"
    assert (await store.start(campaign_id, started)).status == "running", "start also takes a paused campaign"
    cancelled = await store.cancel(campaign_id, started)
    assert (cancelled.status, cancelled.finished_at) == ("cancelled", started)
    for action in ("start", "pause", "resume"):
        with pytest.raises(CampaignRefused, match=f"the campaign is cancelled: nothing is left to {action}"):
            await store.act(campaign_id, action, started)
    with pytest.raises(CampaignRefused, match="the campaign is cancelled already"):
        await store.cancel(campaign_id, started)
    with pytest.raises(CampaignNotFound, match="no campaign 999"):
        await store.start(999, started)
    with pytest.raises(BadCampaign, match="no action 'restart'"):
        await store.act(campaign_id, "restart", started)


async def test_cancelling_ends_the_numbers_left_and_lets_a_call_in_progress_finish(
        store: CampaignStore, engine: AsyncEngine) -> None:
    campaign_id = (await imported(store)).campaign.id
    await store.start(campaign_id, NOW)
    dialer = SurveyStore(engine)
    first, second, third, *_rest = await dialer.due("call", NOW, 100)
    assert await dialer.claim_call(first, NOW)  # a call in progress
    assert await dialer.claim_call(second, NOW)
    assert await dialer.call_ended(second.id, "no-answer", visits.Step("sms", NOW), NOW)
    assert await dialer.text(await dialer.get(second.id) or second, "短信", visits.Step("wait_reply", NOW), NOW)
    assert await dialer.answer(third.id, {"service": "satisfied", "efficiency": "satisfied"}, "sms", NOW)

    await store.cancel(campaign_id, NOW)
    by_line = {s.line: s.status for s in await surveys(engine, campaign_id)}
    assert by_line == {2: "calling", 3: "cancelled", 6: "answered", 10: "cancelled", 11: "cancelled"}

    # The call ends unanswered: its number would be due again; the next look cancels it.
    assert await dialer.call_ended(first.id, "no-answer", visits.Step("call", NOW + timedelta(hours=1)), NOW)
    assert not await store.finish_if_done(campaign_id, NOW)
    assert (await dialer.get(first.id) or first).status == "cancelled"
    assert (await store.get(campaign_id)).status == "cancelled"


async def test_a_running_campaign_finishes_when_no_number_is_left_to_ask(store: CampaignStore,
                                                                         engine: AsyncEngine) -> None:
    campaign_id = (await imported(store, text="13900000001,urban\n13900000002,water\n")).campaign.id
    dialer = SurveyStore(engine)
    assert not await store.finish_if_done(campaign_id, NOW), "a ready campaign is not finished"
    await store.start(campaign_id, NOW)
    first, second = await dialer.due("call", NOW, 10)
    assert await dialer.answer(first.id, {"service": "very_satisfied", "efficiency": "satisfied"}, "sms", NOW)
    assert not await store.finish_if_done(campaign_id, NOW), "a number is still due"
    assert await dialer.claim_call(second, NOW)
    assert await dialer.call_ended(second.id, "no-answer", visits.Step("unreachable", None, "no answer"), NOW)
    done_at = NOW + timedelta(minutes=5)
    assert await store.finish_if_done(campaign_id, done_at)
    finished = await store.get(campaign_id)
    assert (finished.status, finished.finished_at) == ("finished", done_at)
    assert not await store.finish_if_done(campaign_id, done_at), "once"
    with pytest.raises(CampaignRefused, match="the campaign is finished: nothing is left to resume"):
        await store.resume(campaign_id, NOW)


async def test_a_campaign_whose_last_call_ended_while_paused_finishes_when_resumed(store: CampaignStore,
                                                                                   engine: AsyncEngine) -> None:
    campaign_id = (await imported(store, text="13900000001,urban\n")).campaign.id
    await store.start(campaign_id, NOW)
    dialer = SurveyStore(engine)
    (only,) = await dialer.due("call", NOW, 10)
    assert await dialer.claim_call(only, NOW)
    await store.pause(campaign_id, NOW)
    assert await dialer.answer(only.id, {"service": "satisfied", "efficiency": "satisfied"}, "phone", NOW)
    assert not await store.finish_if_done(campaign_id, NOW), "paused: not finished behind the supervisor's back"
    assert (await store.resume(campaign_id, NOW)).status == "finished"


async def answer_some(store: CampaignStore, engine: AsyncEngine) -> int:
    """The campaign of LIST, started: urban's lines 2 and 3 answered (very satisfied and dissatisfied about the
    service), water's line 6 answered (basically satisfied), line 10 called without an answer; line 11 due."""
    campaign_id = (await imported(store)).campaign.id
    await store.start(campaign_id, NOW)
    dialer = SurveyStore(engine)
    by_line = {s.line: s for s in await dialer.due("call", NOW, 100)}
    for line, service, efficiency in ((2, "very_satisfied", "satisfied"), (3, "dissatisfied", "satisfied"),
                                      (6, "basically_satisfied", "very_dissatisfied")):
        assert await dialer.claim_call(by_line[line], NOW)
        assert await dialer.answer(by_line[line].id, {"service": service, "efficiency": efficiency}, "phone",
                                   NOW + timedelta(minutes=line))
    assert await dialer.claim_call(by_line[10], NOW)
    assert await dialer.call_ended(by_line[10].id, "busy", visits.Step("call", NOW + timedelta(hours=1)), NOW)
    return campaign_id


async def test_progress_per_unit_counts_statuses_asked_answered_against_the_quota(
        store: CampaignStore, engine: AsyncEngine) -> None:
    campaign_id = await answer_some(store, engine)
    progress = await store.progress(campaign_id)
    assert progress.campaign.status == "running"
    shown = [(u.unit, u.name, u.numbers, u.statuses, u.asked, u.answered, u.quota, u.target, u.live, u.satisfaction)
             for u in (*progress.units, progress.total)]
    assert shown == [
        ("urban", "城管局", 3, {"answered": 2, "due": 1}, 2, 2, 2, 2, 1, 0.5),
        ("water", "水务局", 2, {"answered": 1, "due": 1}, 2, 1, None, 2, 1, 1.0),
        ("", "全部", 5, {"answered": 3, "due": 2}, 4, 3, 4, 4, 2, 2 / 3),
    ]
    assert progress.as_json()["units"][0] == {
        "unit": "urban", "name": "城管局", "numbers": 3, "statuses": {"answered": 2, "due": 1}, "asked": 2,
        "answered": 2, "quota": 2, "target": 2, "live": 1, "satisfaction": 0.5}


async def test_a_unit_with_a_quota_and_no_number_shows_with_nothing_done(store: CampaignStore) -> None:
    campaign_id = (await imported(store, quotas={"market": 3})).campaign.id
    market = next(u for u in (await store.progress(campaign_id)).units if u.unit == "market")
    assert (market.name, market.numbers, market.answered, market.quota, market.satisfaction) == (
        "市场监管局", 0, 0, 3, None)


async def test_results_per_unit_and_question_with_the_satisfaction_rate(store: CampaignStore,
                                                                        engine: AsyncEngine) -> None:
    campaign_id = await answer_some(store, engine)
    script, results = await store.results(campaign_id)
    assert script.name == "public_evaluation"
    shown = {(r.unit, r.question): (r.answers, {a: n for a, n in r.counts.items() if n}, r.satisfaction)
             for r in results}
    assert shown == {
        ("urban", "service"): (2, {"very_satisfied": 1, "dissatisfied": 1}, 0.5),
        ("urban", "efficiency"): (2, {"satisfied": 2}, 1.0),
        ("water", "service"): (1, {"basically_satisfied": 1}, 1.0),
        ("water", "efficiency"): (1, {"very_dissatisfied": 1}, 0.0),
        ("", "service"): (3, {"very_satisfied": 1, "dissatisfied": 1, "basically_satisfied": 1}, 2 / 3),
        ("", "efficiency"): (3, {"satisfied": 2, "very_dissatisfied": 1}, 2 / 3),
    }
    assert [(r.unit, r.question) for r in results] == [
        ("urban", "service"), ("urban", "efficiency"), ("water", "service"), ("water", "efficiency"),
        ("", "service"), ("", "efficiency")], "units in code order, then every unit together"
    assert set(results[2].counts) == {"very_satisfied", "satisfied", "basically_satisfied", "dissatisfied",
                                      "very_dissatisfied"}, "every choice, counted 0 when nobody gave it"


async def test_results_of_a_return_visit_script_count_solved_and_rate_the_rating(store: CampaignStore,
                                                                                 engine: AsyncEngine) -> None:
    campaign_id = (await imported(store, text="13900000001,urban\n13900000002,urban\n", script="return_visit",
                                  quotas={})).campaign.id
    await store.start(campaign_id, NOW)
    dialer = SurveyStore(engine)
    first, second = await dialer.due("call", NOW, 10)
    await dialer.answer(first.id, {"solved": "yes", "rating": "satisfied"}, "sms", NOW)
    await dialer.answer(second.id, {"solved": "no", "rating": "very_dissatisfied"}, "sms", NOW)
    _script, results = await store.results(campaign_id)
    urban = {r.question: r for r in results if r.unit == "urban"}
    assert (urban["solved"].counts, urban["solved"].satisfaction) == ({"yes": 1, "no": 1}, None)
    assert (urban["rating"].answers, urban["rating"].satisfaction) == (2, 0.5)
    assert (await store.progress(campaign_id)).units[0].satisfaction == 0.5


def rows_of(text: str) -> list[list[str]]:
    assert text.startswith("\ufeff"), "a BOM: Excel opens the Chinese right"
    return list(csv.reader(io.StringIO(text[1:])))


async def test_the_results_csv_has_a_row_per_unit_and_question(store: CampaignStore, engine: AsyncEngine) -> None:
    campaign_id = await answer_some(store, engine)
    rows = rows_of(await store.results_csv(campaign_id))
    assert rows == [
        ["单位代码", "单位", "问题", "回答数", "非常满意", "满意", "基本满意", "不满意", "非常不满意", "满意率"],
        ["urban", "城管局", "服务满意度", "2", "1", "0", "0", "1", "0", "50.0%"],
        ["urban", "城管局", "办事效率", "2", "0", "2", "0", "0", "0", "100.0%"],
        ["water", "水务局", "服务满意度", "1", "0", "0", "1", "0", "0", "100.0%"],
        ["water", "水务局", "办事效率", "1", "0", "0", "0", "0", "1", "0.0%"],
        ["全部", "全部", "服务满意度", "3", "1", "0", "1", "1", "0", "66.7%"],
        ["全部", "全部", "办事效率", "3", "0", "2", "0", "0", "1", "66.7%"],
    ]


async def test_the_answers_csv_has_each_number_masked_with_its_answers(store: CampaignStore,
                                                                       engine: AsyncEngine) -> None:
    campaign_id = await answer_some(store, engine)
    text = await store.answers_csv(campaign_id)
    rows = rows_of(text)
    assert rows == [
        ["行号", "单位代码", "号码", "状态", "呼叫次数", "已发短信", "回答方式", "回答时间", "服务满意度", "办事效率"],
        ["2", "urban", "139****0001", "已回答", "1", "否", "电话", "2026-11-25 10:02:00", "非常满意", "满意"],
        ["3", "urban", "139****0002", "已回答", "1", "否", "电话", "2026-11-25 10:03:00", "不满意", "满意"],
        ["6", "water", "139****0004", "已回答", "1", "否", "电话", "2026-11-25 10:06:00", "基本满意", "非常不满意"],
        ["10", "water", "010****5678", "待联系", "1", "否", "", "", "", ""],
        ["11", "urban", "139****0007", "待联系", "0", "否", "", "", "", ""],
    ]
    for number in ("13900000001", "13900000002", "13900000004", "01012345678", "13900000007"):
        assert number not in text


async def test_the_list_of_campaigns_counts_each_ones_numbers_by_status(store: CampaignStore,
                                                                        engine: AsyncEngine) -> None:
    first = await answer_some(store, engine)
    second = (await imported(store, text="13900000011,water\n", name="第二期")).campaign.id
    listed = [(campaign.id, campaign.name, statuses) for campaign, statuses in await store.all()]
    assert listed == [(second, "第二期", {"due": 1}), (first, "2026年第四季度政务服务评议", {"answered": 3, "due": 2})]
