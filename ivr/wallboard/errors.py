"""Wallboard refusals as data: each maps to an HTTP status and a stable error id."""

from __future__ import annotations

from ivr.agents.errors import AgentError


class WallboardError(AgentError):
    error_id = "wallboard-error"


class NotLoggedIn(WallboardError):
    status = 401
    error_id = "not-authenticated"


class BadDisplayKey(WallboardError):
    status = 403
    error_id = "bad-display-key"
