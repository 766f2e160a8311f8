"""Asterisk's configuration rendered from the settings, read back with pyst2's config parser."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path, PurePosixPath

import pytest
from asterisk.config import Config

from ivr.ami import privileges
from ivr.asterisk.layout import AsteriskLayout
from ivr.asterisk.render import REPOSITORY, TEMPLATE_DIR, TemplateError, render_all, render_text
from ivr.secrets import ensure_secrets
from ivr.settings import Settings, SipSettings


class AsteriskConfig(Config):  # type: ignore[misc]
    """pyst2's parser, closing the file it reads, with template markers `[name](tpl)` kept as comments."""

    def load(self) -> None:
        with open(self.filename) as handle:
            self.raw_lines = [re.sub(r"^(\[[^]]+\])(\(.*\))", r"\1 ;\2", line) for line in handle]


@pytest.fixture
def rendered(tmp_path: Path) -> tuple[Settings, AsteriskLayout, dict[str, Config]]:
    settings = Settings(data_dir=tmp_path, sip=SipSettings(carrier_addresses=("203.0.113.5", "198.51.100.0/24")))
    layout = AsteriskLayout(tmp_path / "root", PurePosixPath("/srv/hotline/t"))
    render_all(settings, ensure_secrets(settings), layout)
    etc = layout.host("etc")
    return settings, layout, {path.name: AsteriskConfig(str(path)) for path in etc.glob("*.conf")}


def items(config: Config, category: str) -> list[tuple[str, str]]:
    found = [c for c in config.categories if c.name == category]
    assert found, f"no [{category}]"
    # pyst2 splits at "=": "exten => x" reads as ("exten", "> x").
    return [(item.name.strip(), item.value.lstrip(">").strip()) for c in found for item in c.items]


def test_citizens_context_reaches_the_hotline_and_nothing_else(rendered: tuple) -> None:  # type: ignore[type-arg]
    _settings, _layout, configs = rendered
    citizens = items(configs["extensions.conf"], "citizens")
    patterns = {value.split(",")[0] for name, value in citizens if name == "exten"}
    assert patterns == {"12345", "_[0-9*#+a-zA-Z].", "_[0-9*#+]"}
    applications = [value.split(",", 2 if name == "exten" else 1)[-1] for name, value in citizens]
    assert not any(app.startswith(("Dial", "Originate")) for app in applications)
    blocks: dict[str, list[str]] = {}
    for (name, value), application in zip(citizens, applications, strict=True):
        if name == "exten":
            current = blocks.setdefault(value.split(",")[0], [])
        current.append(application)
    for pattern, steps in blocks.items():
        if pattern != "12345":
            assert steps[-1] == "Hangup(21)", f"{pattern} must end refused: {steps}"


def test_the_fallback_still_queues_the_caller(rendered: tuple) -> None:  # type: ignore[type-arg]
    _settings, _layout, configs = rendered
    citizens = [value for _name, value in items(configs["extensions.conf"], "citizens")]
    assert any("AGI(agi://127.0.0.1:4573/hotline-intake)" in value for value in citizens)
    assert any('GotoIf($["${HOTLINE_NEXT}" = "progress"]?hotline-progress,s,1:hotline-queue,s,1)' in value
               for value in citizens), "on to the queue, through the progress query when the intake says so"
    progress_flow = [value for _name, value in items(configs["extensions.conf"], "hotline-progress")]
    assert progress_flow[-2:] == ["n,AGI(agi://127.0.0.1:4573/hotline-progress)", "n,Goto(hotline-queue,s,1)"], \
        "after the progress query, whatever happened in it, the caller goes on to the queue"
    queue_flow = " ".join(value for _name, value in items(configs["extensions.conf"], "hotline-queue"))
    assert "Playback(/srv/hotline/t/sounds/greeting)" in queue_flow
    assert 'Set(HOTLINE_QUEUE=${IF($["${HOTLINE_QUEUE}" = ""]?hotline-general:${HOTLINE_QUEUE})})' in queue_flow, \
        "without our intake: the default line"
    assert "Queue(${HOTLINE_QUEUE},rc,,,${HOTLINE_STRETCH},,,,${HOTLINE_POSITION})" in queue_flow
    assert "AGI(agi://127.0.0.1:4573/hotline-waiting)" in queue_flow and ">= 300]?busy)" in queue_flow


def test_manager_is_loopback_only_with_a_generated_secret(rendered: tuple) -> None:  # type: ignore[type-arg]
    settings, _layout, configs = rendered
    general = dict(items(configs["manager.conf"], "general"))
    assert general["bindaddr"] == "127.0.0.1"
    user = items(configs["manager.conf"], "hotline")
    values = dict(user)
    assert values["secret"] == ensure_secrets(settings).ami_password
    assert values["permit"] == "127.0.0.1/255.255.255.255"
    filters = {name: value for name, value in user if name.startswith("eventfilter")}
    assert filters["eventfilter(action(include),name(QueueCallerJoin))"] == ""
    assert filters["eventfilter(action(include),name(QueueMemberStatus),header(Queue),method(exact))"] == \
        "hotline-direct", "a seat's phone state once, from the queue every logged-in seat is in"
    assert filters["eventfilter(action(include),name(Newchannel),header(Context),method(exact))"] == "citizens"
    assert not any(name.startswith("eventfilter") and "(" not in name for name in filters), "no regex filters"


def test_carrier_identified_by_address_and_forty_seats_with_passwords(rendered: tuple) -> None:  # type: ignore[type-arg]
    settings, _layout, configs = rendered
    pjsip = configs["pjsip.conf"]
    matches = [value for name, value in items(pjsip, "carrier-identify") if name == "match"]
    assert matches == ["203.0.113.5", "198.51.100.0/24"]
    assert dict(items(pjsip, "carrier"))["context"] == "citizens"
    passwords = ensure_secrets(settings).seat_passwords
    for number in ("8001", "8040"):
        values = dict(items(pjsip, number))
        assert values["password"] == passwords[number]
    seats = [c.name for c in pjsip.categories if c.name.isdigit()]
    assert len(set(seats)) == 40 and min(seats) == "8001" and max(seats) == "8040"


def test_only_its_address_names_the_carrier_and_seats_authenticate_from_the_agent_networks(
    rendered: tuple,  # type: ignore[type-arg]
) -> None:
    _settings, layout, configs = rendered
    pjsip = configs["pjsip.conf"]
    assert dict(items(pjsip, "global"))["endpoint_identifier_order"] == "ip,auth_username", \
        "never the From user: it names anybody"
    carrier = dict(items(pjsip, "carrier"))
    assert carrier["identify_by"] == "ip"
    assert (carrier["deny"], carrier["permit"]) == ("0.0.0.0/0.0.0.0,::/0", "203.0.113.5,198.51.100.0/24")
    seat = dict(items(pjsip, "seat-endpoint"))
    assert seat["identify_by"] == "auth_username"
    private = "127.0.0.0/8,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16"
    assert (seat["deny"], seat["permit"]) == ("0.0.0.0/0.0.0.0,::/0", private)
    assert (seat["contact_deny"], seat["contact_permit"]) == ("0.0.0.0/0.0.0.0,::/0", private)
    assert "[8001](seat-endpoint)" in (layout.host("etc") / "pjsip.conf").read_text()


def test_every_endpoint_binds_rtp_to_the_transport_and_hangs_up_vanished_peers(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, sip=SipSettings(bind="192.0.2.7", rtp_timeout=45, rtp_hold_timeout=900,
                                                           session_expires=600))
    layout = AsteriskLayout(tmp_path / "root", PurePosixPath("/srv/hotline/t"))
    render_all(settings, ensure_secrets(settings), layout)
    pjsip = AsteriskConfig(str(layout.host("etc") / "pjsip.conf"))
    assert dict(items(pjsip, "transport-udp"))["bind"] == "192.0.2.7:5060"
    shared = dict(items(pjsip, "hotline-endpoint"))
    assert shared["transport"] == "transport-udp", "with an explicit transport, RTP binds to its address"
    assert (shared["rtp_timeout"], shared["rtp_timeout_hold"]) == ("45", "900")
    assert (shared["timers"], shared["timers_sess_expires"]) == ("yes", "600")
    text = (layout.host("etc") / "pjsip.conf").read_text()
    assert "[carrier](hotline-endpoint)" in text and "[seat-endpoint](!,hotline-endpoint)" in text


def test_the_ami_user_holds_only_the_classes_its_actions_and_events_need(rendered: tuple) -> None:  # type: ignore[type-arg]
    _settings, _layout, configs = rendered
    user = dict(items(configs["manager.conf"], "hotline"))
    assert user["write"] == "agent,call,originate", "no system, command or config: no shell, no restart"
    assert user["read"] == "system,call,agent,user"


def test_every_ami_action_the_server_sends_has_its_class_in_the_table() -> None:
    sent: set[str] = set()
    for source in (REPOSITORY / "ivr").rglob("*.py"):
        sent |= set(re.findall(r"""["']Action["']:\s*["'](\w+)["']""", source.read_text(encoding="utf-8")))
    assert {"Originate", "QueuePause", "Redirect"} <= sent, sent
    assert not sent - set(privileges.ACTION_CLASSES), "add the action and its class to ivr/ami/privileges.py"


def test_queue_members_are_agents_who_log_in_not_static_seats(rendered: tuple) -> None:  # type: ignore[type-arg]
    _settings, _layout, configs = rendered
    names = [category.name for category in configs["queues.conf"].categories]
    lines = ["hotline-general", "hotline-enterprise", "hotline-dialect", "hotline-english", "hotline-direct"]
    assert [name for name in names if name.startswith("hotline-")] == lines
    for line in lines:
        assert not [value for name, value in items(configs["queues.conf"], line) if name == "member"]
    assert dict(items(configs["queues.conf"], "hotline-direct"))["strategy"] == "ringall"
    assert dict(items(configs["queues.conf"], "hotline-general"))["strategy"] == "leastrecent"
    assert dict(items(configs["queues.conf"], "general"))["persistentmembers"] == "yes"


def test_rendered_files_are_private_and_fully_substituted(rendered: tuple) -> None:  # type: ignore[type-arg]
    _settings, layout, _configs = rendered
    for path in layout.host("etc").glob("*.conf"):
        text = path.read_text()
        assert "{{" not in text, path.name
        if path.name in {"manager.conf", "pjsip.conf"}:
            assert path.stat().st_mode & 0o077 == 0


def test_templates_hold_no_password() -> None:
    for template in TEMPLATE_DIR.glob("*.in"):
        text = template.read_text()
        for line in text.splitlines():
            if line.startswith(("secret", "password")):
                assert "{{" in line, f"{template.name}: {line}"


def test_an_unknown_placeholder_is_an_error() -> None:
    with pytest.raises(TemplateError, match=r"x.conf: no value for \{\{nope\}\}"):
        render_text("a = {{nope}}", {}, "x.conf")


def test_seat_numbers_of_different_lengths_are_refused(tmp_path: Path) -> None:
    settings = dataclasses.replace(Settings(data_dir=tmp_path), sip=SipSettings(first_seat=9990, seat_count=20))
    layout = AsteriskLayout(tmp_path / "root", PurePosixPath("/srv/hotline/t"))
    with pytest.raises(TemplateError, match="same number of digits"):
        render_all(settings, ensure_secrets(settings), layout)


def test_voicemail_is_one_context_any_flow_reaches_with_the_settings_limits(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    settings = dataclasses.replace(settings, voicemail=dataclasses.replace(settings.voicemail, max_seconds=90,
                                                                           silence_seconds=4))
    layout = AsteriskLayout(tmp_path / "root", PurePosixPath("/srv/hotline/t"))
    render_all(settings, ensure_secrets(settings), layout)
    config = AsteriskConfig(str(layout.host("etc") / "extensions.conf"))
    steps = [value for _name, value in items(config, "hotline-voicemail")]
    assert steps[0] == "s,1,Set(CHANNEL(hangup_handler_push)=hotline-voicemail-saved,s,1)", \
        "the hang-up handler first: a caller who hangs up mid-recording still has the file taken in"
    assert "n,UserEvent(HotlineVoicemail)" in steps
    assert "n,Record(/srv/hotline/t/voicemail/${UNIQUEID}.wav,4,90,k)" in steps, "k keeps the file on hang-up"
    queue_flow = [value for _name, value in items(config, "hotline-queue")]
    assert 'n,GotoIf($["${HOTLINE_NEXT}" = "voicemail"]?hotline-voicemail,s,1)' in queue_flow


# Where each dialplan application and function used by the templates comes from (None: the PBX core).
# An application missing here fails the test below: add it, and load its module in modules.conf.in.
PROVIDERS = {
    "NoOp": None, "Answer": None, "Goto": None, "GotoIf": None, "Set": None, "Hangup": None, "Wait": None,
    "AGI": "res_agi.so", "UserEvent": "app_userevent.so", "Playback": "app_playback.so", "Queue": "app_queue.so",
    "Record": "app_record.so", "Return": "app_stack.so", "Dial": "app_dial.so", "ConfBridge": "app_confbridge.so",
    "IF": "func_logic.so", "CHANNEL": "func_channel.so", "CALLERID": "func_callerid.so", "EPOCH": None,
    "UNIQUEID": None, "EXTEN": None, "AGISTATUS": None,
}


def test_every_dialplan_application_and_function_is_loaded(rendered: tuple) -> None:  # type: ignore[type-arg]
    _settings, layout, _configs = rendered
    text = (layout.host("etc") / "extensions.conf").read_text()
    applications = set(re.findall(r"^\s*(?:exten => [^,]+,|same => )(?:[\dn]+(?:\(\w+\))?),(\w+)\(", text, re.M))
    functions = set(re.findall(r"\$\{([A-Z_]+)\(", text))
    used = applications | functions
    assert {"Queue", "AGI", "ConfBridge", "IF"} <= used, used
    unknown = used - set(PROVIDERS)
    assert not unknown, f"add these to PROVIDERS: {sorted(unknown)}"
    loaded = set(re.findall(r"^load = (\S+)", (layout.host("etc") / "modules.conf").read_text(), re.M))
    missing = {name: PROVIDERS[name] for name in used if PROVIDERS[name] and PROVIDERS[name] not in loaded}
    assert not missing, f"modules.conf.in does not load {missing}"
