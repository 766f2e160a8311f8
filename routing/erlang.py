"""Erlang C (M/M/N): how many agents a stream of calls needs to be answered in time. Pure.

With λ calls a second, each held AHT seconds on average, the offered load is A = λ·AHT erlangs. With N agents
(A < N) a caller waits at all with probability P_w (Erlang's C formula), answered within t seconds with
SL(t) = 1 − P_w·e^{−(N−A)·t/AHT}, after ASA = P_w·AHT/(N−A) seconds on average; agents are busy A/N of the time.

P_w is computed from Erlang's B formula by its recursion B(0) = 1, B(k) = A·B(k−1)/(k + A·B(k−1)), then
C = N·B/(N − A·(1 − B)): every step stays between 0 and 1, so thousands of agents and erlangs neither
overflow nor lose precision, where A^N/N! would.

Assumptions (docs/staffing.md): Poisson arrivals, exponential handle times, nobody abandons, every agent takes
any call. Shrinkage (breaks, training, meetings) is added on top: scheduled = agents ÷ (1 − shrinkage).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# agents ÷ (1 − shrinkage) is often a whole number that floating point misses by a hair (30 ÷ 0.75).
_ROUNDING_SLACK = 1e-9


class BadStaffingInput(ValueError):
    """A negative count, a handle time or interval that is not positive, a target outside (0, 1)…"""


@dataclass(frozen=True)
class Staffing:
    agents: int  # on the phones
    scheduled: int  # on the rota: agents ÷ (1 − shrinkage), rounded up
    traffic: float  # offered load in erlangs
    service_level: float  # share answered within the target seconds
    asa_seconds: float  # average speed of answer
    occupancy: float  # share of the agents' time on calls
    wait_probability: float  # share of callers who wait at all


def traffic(calls: float, interval_seconds: float, handle_seconds: float) -> float:
    """Offered load in erlangs: `calls` arriving over `interval_seconds`, each held `handle_seconds`."""
    return calls / interval_seconds * handle_seconds


def wait_probability(traffic: float, agents: int) -> float:
    """Erlang C: the probability that a caller waits (1 when the agents cannot keep up, A ≥ N)."""
    _check_load(traffic, agents)
    if traffic == 0:
        return 0.0
    if traffic >= agents:
        return 1.0
    return _erlang_c(traffic, agents, _erlang_b(traffic, agents))


def service_level(traffic: float, agents: int, handle_seconds: float, target_seconds: float) -> float:
    """The share of callers answered within `target_seconds`."""
    _check_times(handle_seconds, target_seconds)
    return _service_level(traffic, agents, handle_seconds, target_seconds, wait_probability(traffic, agents))


def asa_seconds(traffic: float, agents: int, handle_seconds: float) -> float:
    """The average speed of answer (infinite when the agents cannot keep up)."""
    _check_times(handle_seconds, 0.0)
    return _asa(traffic, agents, handle_seconds, wait_probability(traffic, agents))


def agents_needed(calls: float, interval_seconds: float, handle_seconds: float, target_seconds: float,
                  target: float, shrinkage: float = 0.0) -> Staffing:
    """The fewest agents that answer `target` (e.g. 0.8) of `calls` over `interval_seconds` within
    `target_seconds`, and the figures they would reach."""
    _check_request(calls, interval_seconds, handle_seconds, target_seconds, target, shrinkage)
    load = traffic(calls, interval_seconds, handle_seconds)
    if load == 0:
        return Staffing(0, 0, 0.0, 1.0, 0.0, 0.0, 0.0)
    agents, blocking = _first_agents_over(load, handle_seconds, target_seconds, target)
    waiting = _erlang_c(load, agents, blocking)
    return Staffing(
        agents=agents,
        scheduled=math.ceil(agents / (1 - shrinkage) - _ROUNDING_SLACK),
        traffic=load,
        service_level=_service_level(load, agents, handle_seconds, target_seconds, waiting),
        asa_seconds=_asa(load, agents, handle_seconds, waiting),
        occupancy=load / agents,
        wait_probability=waiting,
    )


def _first_agents_over(load: float, handle_seconds: float, target_seconds: float, target: float) -> tuple[int, float]:
    """Walks N up from 1, carrying Erlang B along (one recursion step per N), to the first N that meets the
    target: linear in N however large the load. Returns N and B(N)."""
    agents, blocking = 0, 1.0
    while True:
        agents += 1
        blocking = load * blocking / (agents + load * blocking)
        if agents > load:
            waiting = _erlang_c(load, agents, blocking)
            if _service_level(load, agents, handle_seconds, target_seconds, waiting) >= target:
                return agents, blocking


def _erlang_b(load: float, agents: int) -> float:
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def _erlang_c(load: float, agents: int, blocking: float) -> float:
    return agents * blocking / (agents - load * (1 - blocking))


def _service_level(load: float, agents: int, handle_seconds: float, target_seconds: float, waiting: float) -> float:
    if load >= agents:
        return 0.0 if load > 0 else 1.0
    return 1 - waiting * math.exp(-(agents - load) * target_seconds / handle_seconds)


def _asa(load: float, agents: int, handle_seconds: float, waiting: float) -> float:
    if load >= agents:
        return math.inf if load > 0 else 0.0
    return waiting * handle_seconds / (agents - load)


def _check_load(load: float, agents: int) -> None:
    if not load >= 0 or math.isinf(load):  # `not >=` also refuses NaN
        raise BadStaffingInput(f"traffic must be a finite number of erlangs ≥ 0, not {load}")
    if agents < 0:
        raise BadStaffingInput(f"agents must be ≥ 0, not {agents}")


def _check_times(handle_seconds: float, target_seconds: float) -> None:
    if not handle_seconds > 0 or math.isinf(handle_seconds):
        raise BadStaffingInput(f"the handle time must be a finite number of seconds > 0, not {handle_seconds}")
    if not target_seconds >= 0:
        raise BadStaffingInput(f"the target answer time must be ≥ 0 seconds, not {target_seconds}")


def _check_request(calls: float, interval_seconds: float, handle_seconds: float, target_seconds: float,
                   target: float, shrinkage: float) -> None:
    if not calls >= 0 or math.isinf(calls):
        raise BadStaffingInput(f"calls must be a finite number ≥ 0, not {calls}")
    if not interval_seconds > 0:
        raise BadStaffingInput(f"the interval must be > 0 seconds, not {interval_seconds}")
    _check_times(handle_seconds, target_seconds)
    if not 0 < target < 1:  # no number of agents answers every caller in time: P_w > 0 always
        raise BadStaffingInput(f"the service-level target must be a share between 0 and 1 (exclusive), not {target}")
    if not 0 <= shrinkage < 1:
        raise BadStaffingInput(f"shrinkage must be a share from 0 (inclusive) to 1 (exclusive), not {shrinkage}")
