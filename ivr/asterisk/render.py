"""Render asterisk_conf/*.conf.in from the settings into an instance's etc directory."""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from pathlib import Path

import asterisk as pyst2
import six

import routing
from ivr import dialplan_variables
from ivr.ami import privileges
from ivr.ami.events import event_filters
from ivr.asterisk.layout import DEBIAN_DATA_DIR, DEBIAN_MODULE_DIR, AsteriskLayout
from ivr.dialplan_variables import CITIZENS_CONTEXT
from ivr.secrets import Secrets
from ivr.settings import Settings

REPOSITORY = Path(__file__).resolve().parents[2]
TEMPLATE_DIR = REPOSITORY / "asterisk_conf"
AGI_SCRIPT_DIR = REPOSITORY / "agi_scripts"
PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
# Files Asterisk's core reads at start-up; present and quiet rather than missing and logged as errors.
QUIET_CONFIGS = {
    "cdr.conf": "[general]\nenable = no\n",
    "cel.conf": "[general]\nenable = no\n",
    "features.conf": "[general]\n",
    "ccss.conf": "[general]\n",
    "acl.conf": "",
    "udptl.conf": "[general]\n",
    "pjproject.conf": "",
}


class TemplateError(ValueError):
    """A template names a value the renderer does not have."""


def render_text(template: str, values: Mapping[str, object], name: str = "template") -> str:
    def substitute(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise TemplateError(f"{name}: no value for {{{{{key}}}}}")
        return str(values[key])

    return PLACEHOLDER.sub(substitute, template)


def template_values(settings: Settings, secrets: Secrets, layout: AsteriskLayout) -> dict[str, object]:
    sip, queue = settings.sip, settings.queue
    return {
        "etc_dir": layout.inner("etc"),
        "lib_dir": layout.inner("lib"),
        "spool_dir": layout.inner("spool"),
        "run_dir": layout.inner("run"),
        "log_dir": layout.inner("log"),
        "module_dir": DEBIAN_MODULE_DIR,
        "data_dir": DEBIAN_DATA_DIR,
        "sounds_dir": layout.inner("sounds"),
        "agi_dir": layout.inner("agi"),
        "classic_spool": layout.classic_spool_inner,
        "voicemail_dir": layout.inner("voicemail"),
        "voicemail_silence_seconds": settings.voicemail.silence_seconds,
        "voicemail_max_seconds": settings.voicemail.max_seconds,
        "survey_comment_seconds": settings.surveys.comment_seconds,
        "sip_bind": sip.bind,
        "sip_port": sip.port,
        "rtp_start": sip.rtp_start,
        "rtp_end": sip.rtp_end,
        "carrier_matches": "\n".join(f"match = {address}" for address in sip.carrier_addresses),
        "carrier_acl": _acl("", sip.carrier_addresses),
        "agent_acl": _acl("", sip.agent_networks) + "\n" + _acl("contact_", sip.agent_networks),
        "rtp_timeout": sip.rtp_timeout,
        "rtp_hold_timeout": sip.rtp_hold_timeout,
        "session_expires": sip.session_expires,
        "carrier_contact": f"contact = {sip.carrier_contact}" if sip.carrier_contact else "",
        "seat_sections": _seat_sections(secrets),
        "seat_pattern": _seat_pattern(settings.seat_numbers),
        "hotline_number": sip.hotline_number,
        "fastagi_host": settings.fastagi.host,
        "fastagi_port": settings.fastagi.port,
        "queue_sections": _queue_sections(settings),
        "default_queue": settings.line_queue(settings.routing.default_line),
        "ring_seconds": queue.ring_seconds,
        "max_wait_seconds": queue.max_wait_seconds,
        "wrapup_seconds": queue.wrapup_seconds,
        "service_level_seconds": queue.service_level_seconds,
        "ami_host": settings.ami.host,
        "ami_port": settings.ami.port,
        "ami_username": settings.ami.username,
        "ami_password": secrets.ami_password,
        "ami_read": privileges.read_classes(),
        "ami_write": privileges.write_classes(),
        "event_filters": "\n".join(f.line() for f in event_filters(settings.direct_queue, CITIZENS_CONTEXT)),
        "intake_event": dialplan_variables.INTAKE_EVENT,
        "queue_end_event": dialplan_variables.QUEUE_END_EVENT,
        "voicemail_event": dialplan_variables.VOICEMAIL_EVENT,
        "announce_seconds": queue.announce_seconds,
        "emergency_extensions": "\n".join(
            f"exten => {number},1,Dial(PJSIP/{number}@{settings.emergency.endpoint},120)\n same => n,Hangup()"
            for number in settings.emergency.numbers
        ),
        **_variable_names(),
    }


def _queue_sections(settings: Settings) -> str:
    sections = [(settings.line_queue(line), line.strategy or settings.queue.strategy)
                for line in settings.routing.lines]
    sections.append((settings.direct_queue, "ringall"))
    return "\n".join(f"[{name}](line)\nstrategy = {strategy}\n" for name, strategy in sections)


def render_all(settings: Settings, secrets: Secrets, layout: AsteriskLayout) -> list[Path]:
    """Write every rendered file; returns the paths written. Directories Asterisk needs are created."""
    for name in ("etc", "lib", "spool", "run", "log", "sounds", "voicemail"):
        layout.host(name).mkdir(parents=True, exist_ok=True)
    install_agi_scripts(layout.host("agi"))
    values = template_values(settings, secrets, layout)
    written = [_render_template(template, values, layout.host("etc"))
               for template in sorted(TEMPLATE_DIR.glob("*.conf.in"))]
    for name, text in QUIET_CONFIGS.items():
        target = layout.host("etc") / name
        target.write_text("; Rendered by hotline.\n" + text, encoding="utf-8")
        written.append(target)
    return written


def render_config(name: str, settings: Settings, secrets: Secrets, layout: AsteriskLayout) -> Path:
    """Write one rendered file, e.g. pjsip.conf before Asterisk reloads it."""
    return _render_template(TEMPLATE_DIR / f"{name}.in", template_values(settings, secrets, layout), layout.host("etc"))


def _render_template(template: Path, values: Mapping[str, object], etc_dir: Path) -> Path:
    target = etc_dir / template.name.removesuffix(".in")
    target.write_text(render_text(template.read_text(encoding="utf-8"), values, template.name), encoding="utf-8")
    target.chmod(0o600)  # manager.conf and pjsip.conf hold secrets
    return target


def install_agi_scripts(target: Path) -> None:
    """The classic AGI scripts, with what they import (pyst2, six, the pure routing rules), for Asterisk."""
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    for script in AGI_SCRIPT_DIR.glob("*.py"):
        shutil.copy(script, target / script.name)
        (target / script.name).chmod(0o755)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(Path(pyst2.__file__).parent, target / "asterisk", ignore=ignore)
    shutil.copytree(Path(routing.__file__).parent, target / "routing", ignore=ignore)
    (target / "ivr").mkdir()
    (target / "ivr" / "__init__.py").write_text("")
    shutil.copy(dialplan_variables.__file__, target / "ivr" / "dialplan_variables.py")
    shutil.copy(six.__file__, target / "six.py")


def _variable_names() -> dict[str, str]:
    """{{var_greeted}} → HOTLINE_GREETED: the templates use the same constants as the code."""
    return {f"var_{name.lower()}": value for name, value in vars(dialplan_variables).items() if name.isupper()}


def _seat_sections(secrets: Secrets) -> str:
    blocks = []
    for number, password in sorted(secrets.seat_passwords.items()):
        blocks.append(
            f"[{number}](seat-endpoint)\nauth = {number}\naors = {number}\n"
            f'callerid = "Agent {number}" <{number}>\n\n'
            f"[{number}](seat-aor)\n\n"
            f"[{number}]\ntype = auth\nauth_type = digest\nusername = {number}\npassword = {password}\n"
        )
    return "\n".join(blocks)


def _acl(prefix: str, networks: tuple[str, ...]) -> str:
    """Everybody denied, then `networks` permitted (PJSIP endpoint ACL; `contact_` for Contact addresses). An
    endpoint refused by its ACL is answered as Asterisk's artificial endpoint: like a user that does not exist."""
    return f"{prefix}deny = 0.0.0.0/0.0.0.0,::/0\n{prefix}permit = {','.join(networks)}"


def _seat_pattern(numbers: list[str]) -> str:
    """A dialplan pattern that matches the agent numbers (they share a length)."""
    width = len(numbers[0])
    if any(len(n) != width for n in numbers):
        raise TemplateError("agent numbers must all have the same number of digits")
    common = 0
    while common < width and len({n[common] for n in numbers}) == 1:
        common += 1
    return numbers[0][:common] + "X" * (width - common)
