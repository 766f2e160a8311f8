"""The desk's JSON API, through HTTP: sessions, seat log-in, pause and log-out, told to a fake Asterisk.

The agent store and the agent service are real and run on SQLite and PostgreSQL; only AMI is faked.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from ivr import keys
from ivr.agents.errors import AgentExists, BadAgentId
from ivr.agents.service import AgentService
from ivr.agents.store import AgentStore
from ivr.ami.client import AmiClient
from ivr.ami.errors import AmiActionFailed, AmiActionTimeout, AmiError, AmiNotConnected
from ivr.ami.queue_state import QueueState, QueueView
from ivr.db.models import Agent, AgentEvent
from ivr.desk.routes import setup_routes
from ivr.secrets import Secrets
from ivr.settings import LineSettings, RoutingSettings, Settings
from ivr.web.auth import COOKIE, CSRF_HEADER, SESSION_SECONDS, auth_middleware, csrf_token, issue_token
from ivr.web.logins import LOGINS, Logins
from routing.seats import Fix, SeatEvent

SECRET = "desk-test-secret"
AGENTS = {"1001": "张三", "1002": "李四", "1003": "王五"}
START = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


class FakeAmi:
    """The part of AmiClient the agent service and the desk use: `action` and `queue_state`.

    Successful actions change the queue state as app_queue's member events would.
    """

    def __init__(self, queues: set[str]) -> None:
        self.queues = queues
        self.queue_state = QueueState()
        self.sent: list[dict[str, str]] = []
        self.errors: dict[str, AmiError] = {}  # by action name: raised instead of answering
        self.down = False

    async def action(self, fields: dict[str, str], timeout: float | None = None, listing: bool = False) -> Any:
        self.sent.append(dict(fields))
        if self.down:
            raise AmiNotConnected("AMI is not connected")
        if fields["Action"] in self.errors:
            raise self.errors[fields["Action"]]
        interface = fields.get("Interface", "")
        if fields["Action"] == "QueueAdd":
            self.queue_state.handle("QueueMemberAdded", {
                "Queue": fields["Queue"], "Interface": interface, "MemberName": fields["MemberName"],
                "Status": "1", "Paused": "1" if fields.get("Paused") == "true" else "0",
                "Penalty": fields.get("Penalty", "0")})
        elif fields["Action"] == "QueueRemove":
            if interface not in self.queue_state.queues.get(fields["Queue"], QueueView("")).members:
                raise AmiActionFailed("Unable to remove interface: Not there")
            self.queue_state.handle("QueueMemberRemoved", {"Queue": fields["Queue"], "Interface": interface})
        elif fields["Action"] == "QueuePause":
            # Without a queue: in every queue the member is in (as app_queue does).
            for name, view in self.queue_state.queues.items():
                if interface in view.members and fields.get("Queue", name) == name:
                    view.members[interface].paused = fields["Paused"] == "true"
        return {"Response": "Success"}

    def actions(self) -> list[tuple[str, ...]]:
        """What was sent, in short: (action, seat interface[, member name or paused, reason]), the same
        action on the seat's several queues counted once."""
        short: list[tuple[str, ...]] = []
        for fields in self.sent:
            assert fields.get("Queue", "all") in self.queues | {"all"}
            if fields["Action"] == "QueueAdd":
                short.append(("QueueAdd", fields["Interface"], fields["MemberName"]))
            elif fields["Action"] == "QueuePause":
                short.append(("QueuePause", fields["Interface"], fields["Paused"], fields["Reason"]))
            else:
                short.append((fields["Action"], fields["Interface"]))
        return [action for index, action in enumerate(short) if index == 0 or short[index - 1] != action]

    def queues_of(self, interface: str) -> dict[str, int]:
        return {name: view.members[interface].penalty for name, view in self.queue_state.queues.items()
                if interface in view.members}


@dataclass
class Desk:
    client: TestClient[web.Request, web.Application]
    ami: FakeAmi
    store: AgentStore
    service: AgentService
    engine: AsyncEngine
    pins: dict[str, str]

    async def log_in(self, agent_id: str) -> None:
        """A fresh session for the agent (the cookie jar then holds only theirs)."""
        self.client.session.cookie_jar.clear()
        response = await self.client.post("/api/session", json={"agent_id": agent_id, "pin": self.pins[agent_id]})
        assert response.status == 200, await response.text()
        self.client.session.headers[CSRF_HEADER] = (await response.json())["csrf"]

    async def call(self, method: str, path: str, status: int, body: Any = None) -> dict[str, Any]:
        response = await self.client.request(method, path, json=body)
        assert response.status == status, await response.text()
        answer = await response.json()
        assert isinstance(answer, dict)
        return answer

    async def events(self) -> int:
        async with self.engine.connect() as connection:
            return int((await connection.execute(select(func.count()).select_from(AgentEvent))).scalar_one())


def wrong(pin: str) -> str:
    return f"{(int(pin) + 1) % 1_000_000:06d}"


def error_id(answer: Mapping[str, Any]) -> str:
    assert answer["message"], "every error says what went wrong"
    return str(answer["error_id"])



@pytest.fixture
async def desk(engine: AsyncEngine) -> AsyncIterator[Desk]:
    # One line: each agent is in two queues, the general line's and the direct one.
    settings = Settings(routing=RoutingSettings(lines=(LineSettings("general"),)))
    store = AgentStore(engine)
    pins = {agent_id: await store.add(agent_id, name) for agent_id, name in AGENTS.items()}
    ami = FakeAmi({*settings.line_queues, settings.direct_queue})
    service = AgentService(settings, cast(AmiClient, ami), store)
    app = web.Application(middlewares=[auth_middleware(SECRET)])
    app[LOGINS] = Logins.on(engine)
    setup_routes(app)
    app[keys.SETTINGS] = settings
    app[keys.SECRETS] = Secrets(ami_password="x", seat_passwords={}, web_secret=SECRET)
    app[keys.AGENT_STORE] = store
    app[keys.AMI] = cast(AmiClient, ami)
    app[keys.AGENT_SERVICE] = service
    async with TestClient(TestServer(app)) as client:
        yield Desk(client, ami, store, service, engine, pins)


# Sessions


async def test_right_pin_sets_an_http_only_session_cookie_and_me_works(desk: Desk) -> None:
    response = await desk.client.post("/api/session", json={"agent_id": "1001", "pin": desk.pins["1001"]})
    assert response.status == 200
    agent = (await response.json())["agent"]
    assert (agent["id"], agent["name"]) == ("1001", "张三")
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] is True and cookie["samesite"] == "Strict"
    assert int(cookie["max-age"]) == SESSION_SECONDS
    assert desk.pins["1001"] not in cookie.value

    me = await desk.call("GET", "/api/me", 200)
    assert (me["agent"]["id"], me["agent"]["name"], me["agent"]["skills"]) == ("1001", "张三", ["general"])
    assert me["seat"] is None
    assert me["free_seats"][0] == "8001" and len(me["free_seats"]) == 40
    assert me["pause_reasons"]["break"] == "休息"


async def test_wrong_pin_or_unknown_agent_is_bad_credentials(desk: Desk) -> None:
    for agent_id, pin in [("1001", wrong(desk.pins["1001"])), ("9999", desk.pins["1001"]), ("1001", "12345")]:
        response = await desk.client.post("/api/session", json={"agent_id": agent_id, "pin": pin})
        assert response.status == 401, (agent_id, pin)
        assert error_id(await response.json()) == "bad-credentials"
        assert COOKIE not in response.cookies
    assert error_id(await desk.call("GET", "/api/me", 401)) == "not-authenticated"


async def test_without_a_cookie_the_api_answers_not_authenticated(desk: Desk) -> None:
    for method, path in [("GET", "/api/me"), ("POST", "/api/seat"), ("DELETE", "/api/seat"),
                         ("POST", "/api/seat/pause"), ("POST", "/api/seat/resume"), ("DELETE", "/api/session")]:
        answer = await desk.call(method, path, 401, {"seat": "8001", "reason": "break"})
        assert error_id(answer) == "not-authenticated", (method, path)
    assert desk.ami.sent == [] and await desk.events() == 0


def forged_tokens() -> dict[str, str]:
    good = issue_token(SECRET, "1001")
    _, expires, session_id, signature = good.split(".")
    return {
        "other-secret": issue_token("not-the-secret", "1001"),
        "other-agent": f"1002.{expires}.{session_id}.{signature}",
        "longer-expiry": f"1001.{int(expires) + 86400}.{session_id}.{signature}",
        "other-session": f"1001.{expires}.{session_id[::-1]}.{signature}",
        "bad-signature": f"1001.{expires}.{session_id}.{'A' * len(signature)}",
        "without-session-id": f"1001.{expires}.{signature}",
        "expired": issue_token(SECRET, "1001", now=time.time() - SESSION_SECONDS - 60),
        "garbage": "not-a-token",
    }


async def test_forged_or_expired_cookie_is_not_authenticated(desk: Desk) -> None:
    for kind, token in forged_tokens().items():
        desk.client.session.cookie_jar.clear()
        desk.client.session.cookie_jar.update_cookies({COOKIE: token})
        assert error_id(await desk.call("GET", "/api/me", 401)) == "not-authenticated", kind
        assert error_id(await desk.call("POST", "/api/seat", 401, {"seat": "8001"})) == "not-authenticated", kind
    assert desk.ami.sent == [] and await desk.events() == 0


async def test_a_genuine_cookie_made_with_the_secret_is_accepted(desk: Desk) -> None:
    desk.client.session.cookie_jar.update_cookies({COOKIE: issue_token(SECRET, "1002")})
    assert (await desk.call("GET", "/api/me", 200))["agent"]["id"] == "1002"


async def test_log_out_of_the_session_deletes_the_cookie(desk: Desk) -> None:
    await desk.log_in("1001")
    response = await desk.client.delete("/api/session")
    assert response.status == 200 and (await response.json()) == {"ok": True}
    assert response.cookies[COOKIE].value == ""
    assert error_id(await desk.call("GET", "/api/me", 401)) == "not-authenticated"


async def test_five_wrong_pins_lock_the_agent_id_even_for_the_right_pin(desk: Desk) -> None:
    for _ in range(5):
        response = await desk.client.post("/api/session", json={"agent_id": "1001", "pin": wrong(desk.pins["1001"])})
        assert response.status == 401
    response = await desk.client.post("/api/session", json={"agent_id": "1001", "pin": desk.pins["1001"]})
    assert response.status == 429
    assert error_id(await response.json()) == "too-many-attempts"
    assert COOKIE not in response.cookies
    await desk.log_in("1002")  # the lock is per agent id


async def test_a_successful_log_in_forgets_earlier_failures(desk: Desk) -> None:
    for _ in range(4):
        await desk.client.post("/api/session", json={"agent_id": "1001", "pin": wrong(desk.pins["1001"])})
    await desk.log_in("1001")
    for _ in range(4):
        await desk.client.post("/api/session", json={"agent_id": "1001", "pin": wrong(desk.pins["1001"])})
    await desk.log_in("1001")


async def test_a_body_that_is_not_a_json_object_is_a_bad_request(desk: Desk) -> None:
    bodies: list[str | bytes] = ["{not json", "", "[1, 2]", '"1001"', "null", b"\xff\xfe"]
    for path in ["/api/session", "/api/seat", "/api/seat/pause"]:
        if path != "/api/session":
            await desk.log_in("1001")
        for body in bodies:
            response = await desk.client.post(path, data=body, headers={"Content-Type": "application/json"})
            assert response.status == 400, (path, body)
            answer = await response.json()
            assert answer["error_id"] == "agent-error" and "JSON" in answer["message"], (path, body)
    assert desk.ami.sent == [] and await desk.events() == 0


async def test_missing_fields_are_named(desk: Desk) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "agent_id,pin"), ({"agent_id": "1001"}, "pin"), ({"agent_id": "", "pin": "1"}, "agent_id"),
        ({"agent_id": 1001, "pin": int(desk.pins["1001"])}, "agent_id,pin"),
    ]
    for body, fields in cases:
        answer = await desk.call("POST", "/api/session", 400, body)
        assert error_id(answer) == "agent-error" and "missing" in answer["message"]
        assert answer["details"] == {"fields": fields}, body
    await desk.log_in("1001")
    assert (await desk.call("POST", "/api/seat", 400, {"seat": 8001}))["details"] == {"fields": "seat"}
    assert (await desk.call("POST", "/api/seat/pause", 400, {}))["details"] == {"fields": "reason"}
    assert desk.ami.sent == []


# Seats


async def test_seat_log_in_adds_the_member_and_me_shows_the_seat(desk: Desk) -> None:
    await desk.log_in("1001")
    me = await desk.call("POST", "/api/seat", 200, {"seat": "8001"})
    assert desk.ami.actions() == [("QueueAdd", "PJSIP/8001", "1001")]
    assert [(add["Queue"], add["Penalty"]) for add in desk.ami.sent] == [("hotline-direct", "1"),
                                                                         ("hotline-general", "0")]
    assert all(add["StateInterface"] == "PJSIP/8001" and add["Paused"] == "false" for add in desk.ami.sent)
    seat = me["seat"]
    assert (seat["number"], seat["paused"], seat["reason"], seat["phone"]) == ("8001", False, None, "not_in_use")
    assert "8001" not in me["free_seats"] and "8002" in me["free_seats"]
    assert (await desk.call("GET", "/api/me", 200))["seat"]["number"] == "8001"
    assert set(await desk.store.presence()) == {"1001"}


async def test_logging_in_again_on_the_same_seat_changes_nothing(desk: Desk) -> None:
    await desk.log_in("1001")
    await desk.call("POST", "/api/seat", 200, {"seat": "8001"})
    await desk.call("POST", "/api/seat", 200, {"seat": "8001"})
    assert desk.ami.actions() == [("QueueAdd", "PJSIP/8001", "1001")]
    assert await desk.events() == 1


async def test_a_second_agent_cannot_take_a_seat_in_use(desk: Desk) -> None:
    await desk.log_in("1001")
    await desk.call("POST", "/api/seat", 200, {"seat": "8001"})
    await desk.log_in("1002")
    answer = await desk.call("POST", "/api/seat", 409, {"seat": "8001"})
    assert error_id(answer) == "seat-taken" and answer["details"] == {"seat": "8001"}
    assert desk.ami.actions() == [("QueueAdd", "PJSIP/8001", "1001")]
    presence = await desk.store.presence()
    assert set(presence) == {"1001"} and presence["1001"].seat == "8001"
    me = await desk.call("GET", "/api/me", 200)
    assert me["seat"] is None and "8001" not in me["free_seats"]


async def test_unknown_seat_is_not_found(desk: Desk) -> None:
    await desk.log_in("1001")
    for seat in ["9999", "8000", "8041", "PJSIP/8001", "8001;x", " 8001"]:
        answer = await desk.call("POST", "/api/seat", 404, {"seat": seat})
        assert error_id(answer) == "unknown-seat" and answer["details"] == {"seat": seat}
    assert desk.ami.sent == [] and await desk.events() == 0


async def test_moving_to_another_seat_removes_the_old_member_and_adds_the_new(desk: Desk) -> None:
    await desk.log_in("1001")
    await desk.call("POST", "/api/seat", 200, {"seat": "8001"})
    me = await desk.call("POST", "/api/seat", 200, {"seat": "8002"})
    assert desk.ami.actions() == [
        ("QueueAdd", "PJSIP/8001", "1001"),
        ("QueueRemove", "PJSIP/8001"),
        ("QueueAdd", "PJSIP/8002", "1001"),
    ]
    assert me["seat"]["number"] == "8002" and "8001" in me["free_seats"]
    assert set(desk.ami.queue_state.queues["hotline-general"].members) == {"PJSIP/8002"}


async def test_pause_with_a_reason_not_in_the_list_is_refused(desk: Desk) -> None:
    await desk.log_in("1001")
    await desk.call("POST", "/api/seat", 200, {"seat": "8001"})
    for reason in ["lunch", "Break", "休息", " break"]:
        answer = await desk.call("POST", "/api/seat/pause", 400, {"reason": reason})
        assert error_id(answer) == "bad-pause-reason" and answer["details"] == {"reason": reason}
    assert [action[0] for action in desk.ami.actions()] == ["QueueAdd"]
    assert not (await desk.store.presence())["1001"].paused and await desk.events() == 1


async def test_pause_tells_asterisk_the_reason_and_resume_unpauses(desk: Desk) -> None:
    await desk.log_in("1001")
    await desk.call("POST", "/api/seat", 200, {"seat": "8001"})
    me = await desk.call("POST", "/api/seat/pause", 200, {"reason": "break"})
    assert desk.ami.actions()[-1] == ("QueuePause", "PJSIP/8001", "true", "break")
    assert (me["seat"]["paused"], me["seat"]["reason"]) == (True, "break")
    assert desk.ami.queue_state.queues["hotline-general"].members["PJSIP/8001"].paused

    me = await desk.call("POST", "/api/seat/resume", 200)
    assert desk.ami.actions()[-1] == ("QueuePause", "PJSIP/8001", "false", "")
    assert (me["seat"]["paused"], me["seat"]["reason"], me["seat"]["number"]) == (False, None, "8001")
    assert len(desk.ami.sent) == 4 and "Queue" not in desk.ami.sent[-1], "a pause is for all the seat's queues"


async def test_seat_log_out_removes_the_member(desk: Desk) -> None:
    await desk.log_in("1001")
    await desk.call("POST", "/api/seat", 200, {"seat": "8003"})
    await desk.call("POST", "/api/seat/pause", 200, {"reason": "meeting"})
    me = await desk.call("DELETE", "/api/seat", 200)
    assert desk.ami.actions()[-1] == ("QueueRemove", "PJSIP/8003")
    assert me["seat"] is None and "8003" in me["free_seats"]
    assert await desk.store.presence() == {}
    # the seat is free for someone else now
    await desk.log_in("1002")
    assert (await desk.call("POST", "/api/seat", 200, {"seat": "8003"}))["seat"]["number"] == "8003"


async def test_seat_changes_without_a_seat_are_not_logged_in(desk: Desk) -> None:
    await desk.log_in("1001")
    for method, path, body in [("POST", "/api/seat/pause", {"reason": "break"}), ("POST", "/api/seat/resume", None),
                               ("DELETE", "/api/seat", None)]:
        answer = await desk.call(method, path, 409, body)
        assert error_id(answer) == "not-logged-in" and answer["details"] == {"agent_id": "1001"}, path
    assert desk.ami.sent == [] and await desk.events() == 0


async def test_ami_not_connected_is_telephony_unavailable_and_nothing_is_recorded(desk: Desk) -> None:
    await desk.log_in("1001")
    desk.ami.down = True
    answer = await desk.call("POST", "/api/seat", 503, {"seat": "8001"})
    assert error_id(answer) == "telephony-unavailable" and "QueueAdd" in answer["message"]
    assert await desk.store.presence() == {} and await desk.events() == 0
    assert (await desk.call("GET", "/api/me", 200))["seat"] is None

    desk.ami.down = False
    await desk.call("POST", "/api/seat", 200, {"seat": "8001"})
    before = await desk.store.presence()
    desk.ami.down = True
    for method, path, body in [("POST", "/api/seat/pause", {"reason": "break"}), ("POST", "/api/seat/resume", None),
                               ("DELETE", "/api/seat", None), ("POST", "/api/seat", {"seat": "8002"})]:
        assert error_id(await desk.call(method, path, 503, body)) == "telephony-unavailable"
    assert await desk.store.presence() == before and await desk.events() == 1


async def test_other_ami_failures_are_telephony_unavailable_too(desk: Desk) -> None:
    await desk.log_in("1001")
    errors: list[AmiError] = [AmiActionTimeout("no answer in 5 s"), AmiActionFailed("Out of memory")]
    for error in errors:
        desk.ami.errors["QueueAdd"] = error
        answer = await desk.call("POST", "/api/seat", 503, {"seat": "8001"})
        assert error_id(answer) == "telephony-unavailable" and str(error) in answer["message"]
    assert len(desk.ami.sent) == 2 and await desk.events() == 0  # the first add of each attempt failed


async def test_asterisk_already_in_that_state_counts_as_done(desk: Desk) -> None:
    await desk.log_in("1001")
    desk.ami.errors["QueueAdd"] = AmiActionFailed("Unable to add interface: Already there")
    me = await desk.call("POST", "/api/seat", 200, {"seat": "8001"})
    assert me["seat"]["number"] == "8001" and me["seat"]["phone"] == "unknown"  # no member seen in the queue yet
    desk.ami.errors["QueueRemove"] = AmiActionFailed("Unable to remove interface: Not there")
    assert (await desk.call("DELETE", "/api/seat", 200))["seat"] is None
    assert await desk.events() == 2


async def test_a_move_that_fails_half_way_leaves_the_record_as_asterisk_was_told(desk: Desk) -> None:
    await desk.log_in("1001")
    await desk.call("POST", "/api/seat", 200, {"seat": "8001"})
    desk.ami.errors["QueueAdd"] = AmiNotConnected("gone")
    assert error_id(await desk.call("POST", "/api/seat", 503, {"seat": "8002"})) == "telephony-unavailable"
    # Asterisk removed the old seat's member, so the record says logged out (not on 8001, not on 8002).
    assert desk.ami.actions()[-2:] == [("QueueRemove", "PJSIP/8001"), ("QueueAdd", "PJSIP/8002", "1001")]
    assert await desk.store.presence() == {}
    assert desk.ami.queue_state.queues["hotline-general"].members == {}


async def test_an_agent_removed_from_the_database_loses_the_session(desk: Desk) -> None:
    await desk.log_in("1003")
    async with desk.engine.begin() as connection:
        await connection.execute(delete(Agent).where(Agent.id == "1003"))
    assert error_id(await desk.call("GET", "/api/me", 401)) == "bad-credentials"


# Reconciling Asterisk's queue with our record


def queue_member(seat: str, agent_id: str, paused: bool, queue: str = "hotline-general") -> dict[str, str]:
    penalty = str(int(seat) - 8000) if queue == "hotline-direct" else "0"
    return {"Event": "QueueMember", "Queue": queue, "Name": agent_id, "Location": f"PJSIP/{seat}",
            "Status": "1", "Paused": "1" if paused else "0", "Penalty": penalty}


async def record(store: AgentStore, agent_id: str, seat: str, kind: str, reason: str | None = None) -> None:
    await store.record(SeatEvent(agent_id, seat, kind, reason, START))


async def test_reconcile_brings_the_queue_in_line_with_our_record(desk: Desk) -> None:
    await record(desk.store, "1001", "8001", "login")
    await record(desk.store, "1001", "8001", "pause", "break")
    await record(desk.store, "1002", "8002", "login")
    await record(desk.store, "1003", "8003", "login")
    desk.ami.queue_state.replace([
        {"Event": "QueueParams", "Queue": "hotline-general"},
        queue_member("8002", "1002", paused=True),  # paused in Asterisk only: resume
        queue_member("8002", "1002", paused=False, queue="hotline-direct"),
        queue_member("8003", "1003", paused=False),  # matches
        queue_member("8003", "1003", paused=False, queue="hotline-direct"),
        queue_member("8004", "1004", paused=False),  # nobody wants it: remove
        queue_member("8009", "1009", paused=False, queue="other"),  # another queue: not ours
    ])
    fixes = await desk.service.reconcile()
    assert fixes == [
        Fix("resume", "8002", "1002", queue="hotline-general"),
        Fix("remove", "8004", "1004", queue="hotline-general"),
        Fix("add", "8001", "1001", queue="hotline-direct", penalty=1),
        Fix("pause", "8001", "1001", "break", queue="hotline-direct"),
        Fix("add", "8001", "1001", queue="hotline-general"),
        Fix("pause", "8001", "1001", "break", queue="hotline-general"),
    ]
    assert desk.ami.actions() == [
        ("QueuePause", "PJSIP/8002", "false", ""),
        ("QueueRemove", "PJSIP/8004"),
        ("QueueAdd", "PJSIP/8001", "1001"),
        ("QueuePause", "PJSIP/8001", "true", "break"),
        ("QueueAdd", "PJSIP/8001", "1001"),
        ("QueuePause", "PJSIP/8001", "true", "break"),
    ]
    members = desk.ami.queue_state.queues["hotline-general"].members
    assert {interface: (m.name, m.paused) for interface, m in members.items()} == {
        "PJSIP/8001": ("1001", True), "PJSIP/8002": ("1002", False), "PJSIP/8003": ("1003", False),
    }
    desk.ami.sent.clear()
    assert await desk.service.reconcile() == [] and desk.ami.sent == []


async def test_reconcile_replaces_another_agents_member_on_a_wanted_seat(desk: Desk) -> None:
    await record(desk.store, "1001", "8001", "login")
    await record(desk.store, "1002", "8005", "login")
    await record(desk.store, "1002", "8005", "logout")
    desk.ami.queue_state.replace([queue_member("8001", "1002", paused=False)])
    await desk.service.reconcile()
    assert desk.ami.actions() == [("QueueRemove", "PJSIP/8001"), ("QueueAdd", "PJSIP/8001", "1001")]
    assert desk.ami.queues_of("PJSIP/8001") == {"hotline-general": 0, "hotline-direct": 1}


async def test_reconcile_with_an_empty_record_and_queue_does_nothing(desk: Desk) -> None:
    assert await desk.service.reconcile() == []
    assert desk.ami.sent == []


async def test_reconcile_goes_on_when_asterisk_refuses_one_fix(desk: Desk) -> None:
    await record(desk.store, "1001", "8001", "login")
    await record(desk.store, "1002", "8002", "login")
    desk.ami.queue_state.replace([queue_member("8007", "1007", paused=False)])
    desk.ami.errors["QueueRemove"] = AmiActionFailed("Unable to remove interface from queue")
    fixes = await desk.service.reconcile()
    assert [fix.action for fix in fixes] == ["remove", "add", "add", "add", "add"]
    assert [action[0] for action in desk.ami.actions()] == ["QueueRemove", "QueueAdd", "QueueAdd"]
    assert set(desk.ami.queues_of("PJSIP/8002")) == {"hotline-general", "hotline-direct"}
    assert await desk.events() == 2, "reconcile tells Asterisk; it never rewrites our record"


async def test_reconcile_after_an_api_log_in_finds_nothing_to_fix(desk: Desk) -> None:
    await desk.log_in("1001")
    await desk.call("POST", "/api/seat", 200, {"seat": "8001"})
    await desk.call("POST", "/api/seat/pause", 200, {"reason": "training"})
    sent = len(desk.ami.sent)
    assert await desk.service.reconcile() == []
    assert len(desk.ami.sent) == sent


# Agents


async def test_agent_id_must_be_digits(desk: Desk) -> None:
    for agent_id in ["", "abc", "10a1", "1001 ", "-1001", "1.5"]:
        with pytest.raises(BadAgentId) as raised:
            await desk.store.add(agent_id, "赵六")
        assert raised.value.status == 400 and raised.value.error_id == "bad-agent-id"
    assert [agent.id for agent in await desk.store.all()] == sorted(AGENTS)


async def test_an_agent_cannot_be_added_twice(desk: Desk) -> None:
    with pytest.raises(AgentExists) as raised:
        await desk.store.add("1001", "另一个张三")
    assert raised.value.status == 409 and raised.value.details == {"agent_id": "1001"}
    agent = await desk.store.get("1001")
    assert agent is not None and agent.name == "张三"
    assert await desk.store.check_pin("1001", desk.pins["1001"]) is not None, "the first agent's PIN still works"


async def test_the_pin_from_add_verifies_and_only_its_hash_is_kept(desk: Desk) -> None:
    pin = await desk.store.add("2001", "赵六", skills=("general", "water"))
    assert len(pin) == 6 and pin.isdigit()
    agent = await desk.store.check_pin("2001", pin)
    assert agent is not None and (agent.id, agent.name, agent.skills, agent.active) == ("2001", "赵六",
                                                                                     "general,water", True)
    assert pin not in agent.pin_hash
    assert await desk.store.check_pin("2001", wrong(pin)) is None
    assert await desk.store.check_pin("2002", pin) is None


async def test_an_inactive_agent_cannot_log_in(desk: Desk) -> None:
    async with desk.engine.begin() as connection:
        await connection.execute(update(Agent).where(Agent.id == "1002").values(active=False))
    assert await desk.store.check_pin("1002", desk.pins["1002"]) is None
    answer = await desk.call("POST", "/api/session", 401, {"agent_id": "1002", "pin": desk.pins["1002"]})
    assert error_id(answer) == "bad-credentials"


# Regressions: each of these answered 500 or lost the time zone before.


async def test_a_corrupt_pin_hash_is_bad_credentials_not_a_server_error(desk: Desk) -> None:
    async with desk.engine.begin() as connection:
        await connection.execute(update(Agent).where(Agent.id == "1002").values(pin_hash="scrypt$abc$abc"))
    answer = await desk.call("POST", "/api/session", 401, {"agent_id": "1002", "pin": desk.pins["1002"]})
    assert error_id(answer) == "bad-credentials"


async def test_seat_since_carries_its_time_zone(desk: Desk) -> None:
    """SQLite hands datetimes back without a zone: the browser would read them as local time."""
    await desk.log_in("1001")
    me = await desk.call("POST", "/api/seat", 200, {"seat": "8001"})
    since = datetime.fromisoformat(me["seat"]["since"])
    assert since.utcoffset() is not None, f"{me['seat']['since']} would be read as local time by the browser"
    assert abs((datetime.now(UTC) - since).total_seconds()) < 60
    assert (await desk.store.presence())["1001"].since.utcoffset() is not None


async def test_a_cookie_with_a_non_ascii_signature_is_not_authenticated(desk: Desk) -> None:
    response = await desk.client.get("/api/me", headers={"Cookie": f"{COOKIE}=1001.9999999999.é"})
    assert response.status == 401
    assert error_id(await response.json()) == "not-authenticated"


async def test_a_change_without_the_sessions_csrf_token_is_refused(desk: Desk) -> None:
    """A page on another site can make the browser send the cookie, but cannot read the CSRF token."""
    await desk.log_in("1001")
    token = desk.client.session.headers.pop(CSRF_HEADER)
    assert error_id(await desk.call("POST", "/api/seat", 403, {"seat": "8001"})) == "csrf"
    desk.client.session.headers[CSRF_HEADER] = csrf_token(SECRET, issue_token(SECRET, "1002"))  # another session's
    assert error_id(await desk.call("POST", "/api/seat", 403, {"seat": "8001"})) == "csrf"
    assert desk.ami.sent == [], "nothing reached Asterisk"
    assert (await desk.call("GET", "/api/me", 200))["seat"] is None, "reading needs no token"
    desk.client.session.headers[CSRF_HEADER] = token
    assert (await desk.call("POST", "/api/seat", 200, {"seat": "8001"}))["seat"]["number"] == "8001"
