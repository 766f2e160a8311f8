"""The department assessment (部门考核): one score from 0 to 100 per department, and a rank.

score = 100 × the weighted mean of the department's rates that exist in the period:
on-time reply rate (weight 40), satisfaction rate (40), and 1 − return rate (20). A rate without a denominator
(no replies yet, no visits answered) is left out and the others carry its weight, so a department is not
marked down for what did not happen. Ranks are competition ranks: equal scores share a rank (1, 1, 3).
"""

from __future__ import annotations

from collections.abc import Sequence

WEIGHTS = (("on_time_rate", 40.0), ("satisfaction_rate", 40.0), ("kept_rate", 20.0))


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def score(on_time_rate: float | None, satisfaction_rate: float | None, return_rate: float | None) -> float:
    rates = {"on_time_rate": on_time_rate, "satisfaction_rate": satisfaction_rate,
             "kept_rate": None if return_rate is None else 1 - return_rate}
    weighted = [(rates[name], weight) for name, weight in WEIGHTS if rates[name] is not None]
    total = sum(weight for _, weight in weighted)
    if not total:
        return 0.0
    return round(100 * sum(rate * weight for rate, weight in weighted if rate is not None) / total, 1)


def ranks(scores: Sequence[float]) -> list[int]:
    """1 for the best score; equal scores share the better rank."""
    return [1 + sum(other > mine for other in scores) for mine in scores]
