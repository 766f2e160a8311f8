"""What reaches a `calls` column fits it: texts from Asterisk (a Request-URI user, a caller id, a queue name)
are cut to the column's length, read from the model, where they come in: a row PostgreSQL would refuse
must never be built."""

from __future__ import annotations

from typing import Any

from ivr.db.limits import text_limits
from ivr.db.models import Call

# Not cut: a cut unique id could merge two calls. One too long is set aside by the writer instead.
NEVER_CUT = frozenset({"uniqueid"})
TEXT_LENGTHS = {name: length for name, length in text_limits(Call).items() if name not in NEVER_CUT}


def bounded(row: dict[str, Any]) -> dict[str, Any]:
    """`row` with every text longer than its column cut to the column's length."""
    too_long = {name: value[: TEXT_LENGTHS[name]] for name, value in row.items()
                if isinstance(value, str) and name in TEXT_LENGTHS and len(value) > TEXT_LENGTHS[name]}
    return {**row, **too_long} if too_long else row
