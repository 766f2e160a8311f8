"""Reading an import file of knowledge entries: JSON (a list, or {"entries": […]}) or TOML ([[entries]])."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from ivr.knowledge.errors import BadEntry


def read_entries(path: Path) -> list[Any]:
    """The file's entries, unchecked (the store checks each and names the one that is wrong)."""
    text = path.read_text(encoding="utf-8")
    try:
        data: Any = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise BadEntry(f"{path}: not valid {path.suffix.lstrip('.').upper() or 'JSON'}: {exc}") from None
    if isinstance(data, dict):
        data = data.get("entries")
    if not isinstance(data, list):
        raise BadEntry(f"{path}: expected a list of entries (JSON) or [[entries]] tables (TOML)")
    return data
