"""Post-call rating (一次一评): the key the citizen presses, and what it means."""

from __future__ import annotations

RATING_KEYS: dict[str, str] = {
    "1": "satisfied",  # 满意
    "2": "basically_satisfied",  # 基本满意
    "3": "unsatisfied",  # 不满意
}


def rating_for(keys: str) -> str | None:
    """The rating a key press stands for; None for no key or any other key."""
    return RATING_KEYS.get(keys[:1]) if keys else None
