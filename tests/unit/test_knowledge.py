"""The knowledge base: the bigram ranking (pure), the store on SQLite and PostgreSQL (search, review flags, uses,
edits, import) and the HTTP routes, including a department that may not touch another's entries."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr import cli, keys
from ivr.agents.store import AgentStore
from ivr.db.engine import create_engine, upgrade
from ivr.db.models import KnowledgeEntry, KnowledgeUse
from ivr.knowledge import ranking, routes
from ivr.knowledge.entries import EntryFields, parse_entry
from ivr.knowledge.errors import BadEntry, EntryNotFound
from ivr.knowledge.importing import read_entries
from ivr.knowledge.ranking import Document
from ivr.knowledge.store import KnowledgeStore
from ivr.secrets import Secrets
from ivr.settings import Settings
from ivr.web.auth import COOKIE, CSRF_HEADER, USER_PREFIX, auth_middleware, csrf_token, issue_token
from ivr.web.input import input_middleware
from ivr.web.logins import LOGINS, Logins
from ivr.workorders.actors import Actor
from ivr.workorders.directory import Directory
from ivr.workorders.service import Intake, OrderService
from tests.helpers import order_service

TODAY = date(2026, 11, 24)
NOW = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
WARNING_DAYS = 14
SECRET = "knowledge-test-secret"

# Ranking (pure)


def test_a_query_is_cut_into_cjk_bigrams_and_latin_or_digit_words() -> None:
    assert ranking.terms("社保卡 转移 ETC 12345") == ("社保", "保卡", "转移", "etc", "12345")
    assert ranking.terms("ＥＴＣ办理") == ("etc", "办理")  # full-width letters are matched as ASCII
    assert ranking.terms("灯") == ("灯",)  # a lone character stays a term
    assert ranking.terms("社保社保") == ("社保", "保社")  # each term once
    assert ranking.terms("  ,。") == ()


def test_question_words_are_dropped_unless_they_are_the_whole_query() -> None:
    assert ranking.terms("怎么补办社保") == ("么补", "补办", "办社", "社保")
    assert ranking.terms("怎么") == ("怎么",)


def test_a_title_match_outweighs_a_keyword_match_which_outweighs_the_body() -> None:
    query = ranking.terms("社保")
    title = ranking.score(query, "社保", Document("社保卡补办", "", "到窗口办理"))
    keywords = ranking.score(query, "社保", Document("补卡", "社保,补卡", "到窗口办理"))
    body = ranking.score(query, "社保", Document("补卡", "", "社保卡丢失后到窗口办理；社保中心地址"))
    assert title > keywords > body > 0
    assert ranking.score(query, "社保", Document("路灯不亮", "路灯", "报修路灯")) == 0


def test_the_whole_query_as_typed_scores_above_its_terms_apart() -> None:
    query, whole = ranking.terms("公积金提取"), ranking.phrase("公积金提取")
    together = ranking.score(query, whole, Document("", "", "公积金提取的条件"))
    apart = ranking.score(query, whole, Document("", "", "公积金的提取条件；金提"))
    assert together > apart > 0


def test_the_snippet_shows_the_body_around_the_first_match() -> None:
    body = "本市居民" * 10 + "社保卡丢失后可到任一网点补办" + "其他说明" * 20
    shown = ranking.snippet(body, ranking.terms("社保补办"), ranking.phrase("社保补办"))
    assert shown.startswith("…") and shown.endswith("…")
    assert "社保卡丢失后可到任一网点补办" in shown
    assert len(shown) == ranking.SNIPPET_BEFORE + ranking.SNIPPET_AFTER + 2
    assert ranking.snippet("短文", ("社保",), "社保") == "短文"  # no match: the start, uncut


def test_review_state_stale_after_the_date_due_soon_within_the_warning_days() -> None:
    assert ranking.review_state(None, TODAY, WARNING_DAYS) == "current"
    assert ranking.review_state(TODAY - timedelta(days=1), TODAY, WARNING_DAYS) == "stale"
    assert ranking.review_state(TODAY, TODAY, WARNING_DAYS) == "due_soon"
    assert ranking.review_state(TODAY + timedelta(days=WARNING_DAYS), TODAY, WARNING_DAYS) == "due_soon"
    assert ranking.review_state(TODAY + timedelta(days=WARNING_DAYS + 1), TODAY, WARNING_DAYS) == "current"


# Checking the fields


def test_fields_are_checked_and_the_wrong_one_is_named() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"body": "x"}, "title"),
        ({"title": " ", "body": "x"}, "title"),
        ({"title": "t"}, "body"),
        ({"title": "t", "body": "b", "effective_on": "2026/01/01"}, "effective_on"),
        ({"title": "t", "body": "b", "review_on": "2026-02-30"}, "review_on"),
        ({"title": "t", "body": "b", "effective_on": "2026-03-01", "review_on": "2026-03-01"}, "review_on"),
        ({"title": "t", "body": "b", "keywords": [1]}, "keywords"),
        ({"title": "t", "body": "b", "active": "yes"}, "active"),
        ({"title": "t", "body": "b", "colour": "red"}, "colour"),
    ]
    for data, field in cases:
        with pytest.raises(BadEntry) as raised:
            parse_entry(data)
        assert raised.value.details == {"field": field}, data
    fields = parse_entry({"title": " 社保卡补办 ", "body": "到窗口", "keywords": "社保，补卡, 社保",
                          "effective_on": "2026-01-01", "review_on": "2027-01-01"})
    assert fields == EntryFields("社保卡补办", "到窗口", ("社保", "补卡"), None, "", date(2026, 1, 1),
                                 date(2027, 1, 1))
    edited = parse_entry({"review_on": "2028-01-01"}, base=fields)
    assert edited.title == "社保卡补办" and edited.review_on == date(2028, 1, 1)


# The store, on SQLite and PostgreSQL


@dataclass
class Base:
    store: KnowledgeStore
    departments: dict[str, int]
    orders: OrderService


async def base(engine: AsyncEngine) -> Base:
    directory = Directory(engine)
    departments = {
        "hrss": await directory.add_department("hrss", "人社局"),
        "urban": await directory.add_department("urban", "城管局"),
    }
    await directory.load_catalogue([
        {"code": "0301", "topic": "路灯故障", "department": "urban", "keywords": ["路灯"]},
        {"code": "1201", "topic": "社会保险", "department": "hrss", "keywords": ["社保"]},
    ])
    orders = order_service(engine, directory)
    return Base(KnowledgeStore(engine, WARNING_DAYS), departments, orders)


async def add(kb: Base, department: str, title: str, body: str, **fields: Any) -> int:
    return await kb.store.create(kb.departments[department], parse_entry({"title": title, "body": body, **fields}),
                                 NOW)


@pytest.fixture
async def kb(engine: AsyncEngine) -> Base:
    return await base(engine)


async def test_a_two_character_query_finds_entries_with_the_word_anywhere(kb: Base) -> None:
    lamp = await add(kb, "urban", "夜间照明报修", "小区外道路的路灯不亮，可拨打12345报修。", topic="0301")
    await add(kb, "hrss", "社保卡补办", "携带身份证到社保网点补办。")
    hits = await kb.store.search("路灯", TODAY)
    assert [hit.id for hit in hits] == [lamp]
    assert hits[0].department == "城管局" and hits[0].topic == "0301"
    assert "路灯不亮" in hits[0].snippet
    assert [hit.id for hit in await kb.store.search("12345", TODAY)] == [lamp]


async def test_latin_words_match_whatever_their_case_or_width(kb: Base) -> None:
    etc = await add(kb, "urban", "ETC卡办理", "高速公路Etc通行卡到银行网点办理。")
    assert [hit.id for hit in await kb.store.search("etc", TODAY)] == [etc]
    assert [hit.id for hit in await kb.store.search("ＥＴＣ", TODAY)] == [etc]


async def test_title_matches_rank_first_then_keywords_then_body(kb: Base) -> None:
    in_body = await add(kb, "hrss", "异地就医备案", "备案后社保待遇不变；社保卡可直接结算；社保中心答复。")
    in_keywords = await add(kb, "hrss", "灵活就业人员参保", "到窗口登记。", keywords=["社保", "参保"])
    in_title = await add(kb, "hrss", "社保关系转移", "跨省转移需要新参保地受理。")
    assert [hit.id for hit in await kb.store.search("社保", TODAY)] == [in_title, in_keywords, in_body]


async def test_words_apart_in_the_query_are_found_together_in_the_entry(kb: Base) -> None:
    transfer = await add(kb, "hrss", "社保关系转移", "跨省转移接续手续。")
    hits = await kb.store.search("社保 转移 怎么办", TODAY)
    assert hits[0].id == transfer


async def test_entries_not_yet_in_force_or_inactive_are_hidden_from_search(kb: Base) -> None:
    in_force = await add(kb, "urban", "路灯报修", "路灯不亮请报修", effective_on=TODAY.isoformat())
    await add(kb, "urban", "路灯改造计划", "明年起路灯更换", effective_on=(TODAY + timedelta(days=1)).isoformat())
    await add(kb, "urban", "旧路灯报修电话", "已停用的号码", active=False)
    assert [hit.id for hit in await kb.store.search("路灯", TODAY)] == [in_force]
    assert len(await kb.store.search("路灯", TODAY + timedelta(days=1))) == 2


async def test_a_topic_narrows_the_search_or_lists_its_entries(kb: Base) -> None:
    lamp = await add(kb, "urban", "路灯报修", "路灯不亮请报修", topic="0301")
    await add(kb, "hrss", "社保报修？", "路灯无关", topic="1201")
    assert [hit.id for hit in await kb.store.search("路灯", TODAY, topic="0301")] == [lamp]
    assert [hit.id for hit in await kb.store.search("", TODAY, topic="0301")] == [lamp]
    with pytest.raises(BadEntry, match="not a code of the dispatch catalogue"):
        await add(kb, "urban", "x", "y", topic="9999")


async def test_stale_and_due_soon_entries_are_listed_for_their_own_department(kb: Base) -> None:
    def review(days: int) -> str:
        return (TODAY + timedelta(days=days)).isoformat()

    stale = await add(kb, "hrss", "社保缴费基数", "每年7月调整", review_on=review(-1))
    due_today = await add(kb, "hrss", "医保报销比例", "按等级", review_on=review(0))
    due_soon = await add(kb, "hrss", "失业金申领", "满一年", review_on=review(WARNING_DAYS))
    await add(kb, "hrss", "退休年龄", "按规定", review_on=review(WARNING_DAYS + 1))
    await add(kb, "hrss", "旧政策", "已废止", review_on=review(-30), active=False)
    await add(kb, "urban", "路灯报修", "路灯不亮", review_on=review(-5))

    listed = await kb.store.needing_review(kb.departments["hrss"], TODAY)
    assert [(entry["id"], entry["review"]) for entry in listed] == [
        (stale, "stale"), (due_today, "due_soon"), (due_soon, "due_soon")]
    assert [entry["stale"] for entry in listed] == [True, False, False]
    hits = {hit.id: hit.stale for hit in await kb.store.search("社保 医保", TODAY)}
    assert hits == {stale: True, due_today: False}


async def test_a_new_review_date_clears_the_flag_and_sets_updated_at(kb: Base) -> None:
    hrss = kb.departments["hrss"]
    entry_id = await add(kb, "hrss", "社保缴费基数", "每年7月调整", effective_on="2026-01-01", review_on="2026-11-01")
    later = NOW + timedelta(hours=3)
    await kb.store.edit(entry_id, hrss, {"review_on": "2027-11-01"}, later)
    assert await kb.store.needing_review(hrss, TODAY) == []
    shown = await kb.store.entry(entry_id, hrss, TODAY)
    assert (shown["review"], shown["review_on"], shown["updated_at"]) == ("current", "2027-11-01", later.isoformat())
    with pytest.raises(BadEntry) as raised:
        await kb.store.edit(entry_id, hrss, {"review_on": "2025-12-31"}, later)  # before effective_on
    assert raised.value.details == {"field": "review_on"}


async def test_a_department_cannot_see_or_edit_another_departments_entry(kb: Base) -> None:
    entry_id = await add(kb, "hrss", "社保卡补办", "携带身份证")
    with pytest.raises(EntryNotFound):
        await kb.store.entry(entry_id, kb.departments["urban"], TODAY)
    with pytest.raises(EntryNotFound):
        await kb.store.edit(entry_id, kb.departments["urban"], {"title": "改了"}, NOW)
    assert (await kb.store.entry(entry_id, None, TODAY))["title"] == "社保卡补办"  # the centre sees any


async def test_each_use_is_logged_and_counted_in_the_results(kb: Base, engine: AsyncEngine) -> None:
    entry_id = await add(kb, "hrss", "社保卡补办", "携带身份证到社保网点补办。")
    order = await kb.orders.create(Intake(channel="phone", content="咨询社保卡补办"), Actor("1001", "agent"), NOW)
    assert await kb.store.record_use(entry_id, "1001", NOW, call="1700000000.1", order=order.id) == 1
    assert await kb.store.record_use(entry_id, "1002", NOW) == 2
    assert [hit.uses for hit in await kb.store.search("社保", TODAY)] == [2]
    async with engine.connect() as connection:
        uses = (await connection.execute(select(KnowledgeUse.agent, KnowledgeUse.call_uniqueid,
                                                KnowledgeUse.order_id).order_by(KnowledgeUse.id))).all()
    assert [tuple(use) for use in uses] == [("1001", "1700000000.1", order.id), ("1002", None, None)]
    with pytest.raises(BadEntry) as raised:
        await kb.store.record_use(entry_id, "1001", NOW, order=order.id + 100)
    assert raised.value.details == {"field": "order"}
    with pytest.raises(EntryNotFound):
        await kb.store.record_use(entry_id + 100, "1001", NOW)


async def test_import_adds_then_replaces_by_department_and_title(kb: Base, tmp_path: Path,
                                                                 engine: AsyncEngine) -> None:
    toml = tmp_path / "kb.toml"
    toml.write_text('[[entries]]\ntitle = "路灯报修"\nbody = "拨打12345"\ndepartment = "urban"\n'
                    'keywords = ["路灯"]\neffective_on = 2026-01-01\nreview_on = "2027-01-01"\n', encoding="utf-8")
    assert await kb.store.import_entries(read_entries(toml), NOW) == (1, 0)
    as_json = tmp_path / "kb.json"
    as_json.write_text(json.dumps([{"title": "路灯报修", "body": "拨打12345或网上报修", "department": "urban"},
                                   {"title": "社保卡补办", "body": "到网点", "department": "hrss"}]),
                       encoding="utf-8")
    assert await kb.store.import_entries(read_entries(as_json), NOW) == (1, 1)
    async with engine.connect() as connection:
        bodies = (await connection.execute(select(KnowledgeEntry.body).order_by(KnowledgeEntry.id))).scalars().all()
    assert bodies == ["拨打12345或网上报修", "到网点"]
    with pytest.raises(BadEntry, match=r"entry 2: no department 'nowhere'"):
        await kb.store.import_entries([{"title": "a", "body": "b", "department": "urban"},
                                       {"title": "c", "body": "d", "department": "nowhere"}], NOW)
    with pytest.raises(BadEntry, match="entry 1: title is required"):
        await kb.store.import_entries([{"body": "b", "department": "urban"}], NOW)
    broken = tmp_path / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    with pytest.raises(BadEntry, match="not valid JSON"):
        read_entries(broken)


def test_hotline_knowledge_import_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'hotline.db'}"

    async def prepare() -> None:
        engine = create_engine(url)
        await upgrade(engine)
        await base(engine)
        await engine.dispose()

    asyncio.run(prepare())
    file = tmp_path / "kb.json"
    file.write_text(json.dumps([{"title": "路灯报修", "body": "拨打12345", "department": "urban"}]),
                    encoding="utf-8")
    arguments = ["--set", f"database_url={url}", "knowledge", "import", str(file)]
    assert cli.main(arguments) == 0
    assert "1 knowledge entry added, 0 replaced" in capsys.readouterr().out
    file.write_text(json.dumps([{"title": "x", "body": "y", "department": "nowhere"}]), encoding="utf-8")
    assert cli.main(arguments) == 1
    assert "entry 1: no department 'nowhere'" in capsys.readouterr().err


# The routes, through HTTP


@dataclass
class Api:
    client: TestClient[web.Request, web.Application]
    kb: Base

    def as_user(self, user_id: str) -> None:
        """A session for an agent (digits) or a web user, with its CSRF token, as a log-in would make it."""
        token = issue_token(SECRET, user_id if user_id.isdigit() else USER_PREFIX + user_id)
        self.client.session.cookie_jar.clear()
        self.client.session.cookie_jar.update_cookies({COOKIE: token})
        self.client.session.headers[CSRF_HEADER] = csrf_token(SECRET, token)

    async def call(self, method: str, path: str, status: int, body: Any = None) -> dict[str, Any]:
        response = await self.client.request(method, path, json=body)
        assert response.status == status, await response.text()
        answer = await response.json()
        assert isinstance(answer, dict)
        return answer


@pytest.fixture
async def api(engine: AsyncEngine) -> AsyncIterator[Api]:
    kb = await base(engine)
    directory, agents = Directory(engine), AgentStore(engine)
    await directory.add_user("hrss-staff", "人社", "department_staff", "pw-hrss-staff", NOW, "hrss")
    await directory.add_user("urban-staff", "城管", "department_admin", "pw-urban-staff", NOW, "urban")
    await agents.add("1001", "坐席")
    await agents.add("2001", "班长", role="supervisor")
    app = web.Application(middlewares=[auth_middleware(SECRET), input_middleware])
    app[LOGINS] = Logins.on(engine)
    app[keys.DIRECTORY] = directory
    app[keys.AGENT_STORE] = agents
    app[keys.SETTINGS] = Settings(timezone="Asia/Shanghai")
    app[keys.SECRETS] = Secrets(ami_password="x", seat_passwords={}, web_secret=SECRET)
    app[keys.KNOWLEDGE] = kb.store
    routes.setup_routes(app)
    async with TestClient(TestServer(app)) as client:
        yield Api(client, kb)


def local_today() -> date:
    return datetime.now(ZoneInfo("Asia/Shanghai")).date()


async def test_an_agent_searches_and_logs_the_answer_given(api: Api) -> None:
    await add(api.kb, "urban", "路灯报修", "道路的路灯不亮，可拨打12345报修。", source="城管〔2026〕3号")
    api.as_user("1001")
    found = await api.call("GET", "/api/knowledge?q=路灯", 200)
    (hit,) = found["entries"]
    assert (hit["title"], hit["department"], hit["source"], hit["uses"], hit["stale"]) == (
        "路灯报修", "城管局", "城管〔2026〕3号", 0, False)
    assert "路灯不亮" in hit["snippet"]
    used = await api.call("POST", f"/api/knowledge/{hit['id']}/use", 201, {"call": "1700000000.7"})
    assert used == {"entry": hit["id"], "uses": 1}
    api.as_user("2001")  # a supervisor searches too
    assert (await api.call("GET", "/api/knowledge?q=路灯", 200))["entries"][0]["uses"] == 1


async def test_bad_search_and_use_requests_name_the_field(api: Api) -> None:
    entry_id = await add(api.kb, "urban", "路灯报修", "路灯不亮")
    api.as_user("1001")
    assert (await api.call("GET", "/api/knowledge?q=%20", 400))["details"] == {"field": "q"}
    assert (await api.call("GET", "/api/knowledge?q=路灯&limit=0", 400))["details"] == {"field": "limit"}
    assert (await api.call("POST", f"/api/knowledge/{entry_id}/use", 400, {"order": "7"}))["details"] == {
        "field": "order"}
    assert (await api.call("POST", f"/api/knowledge/{entry_id}/use", 400, {"call": 7}))["details"] == {
        "field": "call"}
    missing = await api.call("POST", f"/api/knowledge/{entry_id + 1}/use", 404, {})
    assert missing["error_id"] == "knowledge-entry-not-found"


async def test_a_department_creates_edits_and_reviews_its_own_entries(api: Api) -> None:
    api.as_user("hrss-staff")
    past = (local_today() - timedelta(days=1)).isoformat()
    created = await api.call("POST", "/api/knowledge", 201, {
        "title": "社保缴费基数", "body": "每年7月调整", "keywords": ["社保", "基数"], "topic": "1201",
        "effective_on": "2026-01-01", "review_on": past})
    assert (created["department"], created["review"], created["stale"]) == ("人社局", "stale", True)
    review = await api.call("GET", "/api/knowledge/review", 200)
    assert [entry["id"] for entry in review["entries"]] == [created["id"]]

    later = (local_today() + timedelta(days=365)).isoformat()
    edited = await api.call("PUT", f"/api/knowledge/{created['id']}", 200, {"review_on": later})
    assert (edited["review"], edited["review_on"], edited["title"]) == ("current", later, "社保缴费基数")
    assert datetime.fromisoformat(edited["updated_at"]) > datetime.fromisoformat(created["updated_at"])
    assert (await api.call("GET", "/api/knowledge/review", 200))["entries"] == []


async def test_a_department_gets_400s_naming_the_field(api: Api) -> None:
    api.as_user("hrss-staff")
    for body, field in [({"body": "b"}, "title"), ({"title": "t", "body": ""}, "body"),
                        ({"title": "t", "body": "b", "effective_on": "tomorrow"}, "effective_on"),
                        ({"title": "t", "body": "b", "effective_on": "2026-05-01", "review_on": "2026-04-01"},
                         "review_on"),
                        ({"title": "t", "body": "b", "topic": "9999"}, "topic")]:
        answer = await api.call("POST", "/api/knowledge", 400, body)
        assert (answer["error_id"], answer["details"]) == ("bad-knowledge-entry", {"field": field}), body
    assert (await api.call("POST", "/api/knowledge", 400, ["x"]))["message"] == "the request body must be a JSON object"


async def test_a_department_cannot_read_or_edit_another_departments_entry(api: Api) -> None:
    theirs = await add(api.kb, "hrss", "社保卡补办", "携带身份证")
    api.as_user("urban-staff")
    assert (await api.call("GET", f"/api/knowledge/{theirs}", 404))["error_id"] == "knowledge-entry-not-found"
    await api.call("PUT", f"/api/knowledge/{theirs}", 404, {"title": "改了"})
    api.as_user("hrss-staff")
    assert (await api.call("GET", f"/api/knowledge/{theirs}", 200))["title"] == "社保卡补办"


async def test_each_role_keeps_to_its_part(api: Api) -> None:
    entry_id = await add(api.kb, "hrss", "社保卡补办", "携带身份证")
    api.as_user("hrss-staff")
    assert (await api.call("GET", "/api/knowledge?q=社保", 403))["error_id"] == "forbidden"
    await api.call("POST", f"/api/knowledge/{entry_id}/use", 403, {})
    api.as_user("1001")
    await api.call("POST", "/api/knowledge", 403, {"title": "t", "body": "b"})
    await api.call("GET", "/api/knowledge/review", 403)
    assert (await api.call("GET", f"/api/knowledge/{entry_id}", 200))["department"] == "人社局"
    api.client.session.cookie_jar.clear()
    assert (await api.call("GET", "/api/knowledge?q=社保", 401))["error_id"] == "not-authenticated"


