"""Everything an Asterisk instance needs on disk before it starts: secrets, sandbox, configuration, prompts."""

from __future__ import annotations

import shutil
from pathlib import Path

from ivr.asterisk.layout import AsteriskLayout, choose_layout
from ivr.asterisk.render import render_all
from ivr.asterisk.sandbox import Progress, install_sandbox
from ivr.prompts.catalogue import PROMPTS
from ivr.prompts.generate import generate_prompts
from ivr.secrets import Secrets, ensure_secrets
from ivr.settings import Settings


def prepare_instance(
    settings: Settings, progress: Progress, install: bool = True, fresh: bool = False
) -> tuple[Secrets, AsteriskLayout]:
    """`install`: put the sandbox in place when it is missing; `fresh`: start from an empty instance
    directory (tests and benchmarks: no astdb, logs or spool from an earlier run)."""
    secrets = ensure_secrets(settings)
    layout = choose_layout(settings)
    if layout.root is not None and install:
        install_sandbox(layout.root, settings.asterisk.suite, progress)
    if fresh:
        shutil.rmtree(layout.host("."), ignore_errors=True)
    render_all(settings, secrets, layout)
    custom = Path(settings.prompts.custom_dir) if settings.prompts.custom_dir else None
    routing = settings.routing
    greeting = PROMPTS["greeting"] + "".join(line.announce for line in routing.lines if line.key)
    greeting += routing.progress_announce if routing.progress_key else ""
    generate_prompts(layout.sounds_dir, settings.prompts.voice, custom, {"greeting": greeting})
    return secrets, layout
