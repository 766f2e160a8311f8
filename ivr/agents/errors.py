"""Agent and seat errors as data: each maps to an HTTP status and a stable error id for the desk."""

from __future__ import annotations


class AgentError(Exception):
    status = 400
    error_id = "agent-error"

    def __init__(self, message: str, **details: str) -> None:
        super().__init__(message)
        self.details = details


class UnknownSeat(AgentError):
    status = 404
    error_id = "unknown-seat"


class SeatTaken(AgentError):
    status = 409
    error_id = "seat-taken"


class NotLoggedIn(AgentError):
    status = 409
    error_id = "not-logged-in"


class BadPauseReason(AgentError):
    error_id = "bad-pause-reason"


class BadCredentials(AgentError):
    status = 401
    error_id = "bad-credentials"


class BadAgentId(AgentError):
    error_id = "bad-agent-id"


class BadAgentSkills(AgentError):
    error_id = "bad-skills"


class AgentExists(AgentError):
    status = 409
    error_id = "agent-exists"


class TelephonyUnavailable(AgentError):
    status = 503
    error_id = "telephony-unavailable"


class UnknownAgent(AgentError):
    status = 404
    error_id = "unknown-agent"


class NoLine(AgentError):
    status = 409
    error_id = "no-line"


class TooManyAttempts(AgentError):
    """A log-in refused by the throttle (routing/login_limits.py); the answer carries Retry-After."""

    status = 429
    error_id = "too-many-attempts"

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed log-ins; try again in {retry_after} seconds",
                         retry_after=str(retry_after))
        self.retry_after = retry_after


class TooLong(AgentError):
    error_id = "too-long"


class DatabaseUnavailable(AgentError):
    status = 503
    error_id = "database-unavailable"
