"""Staffing errors as data: each maps to an HTTP status and a stable error id."""

from __future__ import annotations

from ivr.agents.errors import AgentError


class StaffingError(AgentError):
    error_id = "staffing-error"


class BadDate(StaffingError):
    """A date parameter that is not YYYY-MM-DD; `details` names the parameter."""

    status = 400
    error_id = "bad-date"
