"""Open311 errors: each is answered in the spec's format, [{"code": status, "description": message}]."""

from __future__ import annotations

from ivr.agents.errors import AgentError


class Open311Error(AgentError):
    """Something wrong with the request; the message names the field or the header."""

    status = 400
    error_id = "open311-bad-request"


class BadField(Open311Error):
    error_id = "open311-bad-field"


class NotServed(Open311Error):
    """A format the API does not serve (XML)."""

    error_id = "open311-format"


class KeyRefused(Open311Error):
    status = 403
    error_id = "open311-api-key"


class NotFound(Open311Error):
    status = 404
    error_id = "open311-not-found"


class BodyTooLarge(Open311Error):
    status = 413
    error_id = "open311-too-large"


class WrongContentType(Open311Error):
    status = 415
    error_id = "open311-content-type"


class ApiKeyTaken(Open311Error):
    """`hotline apikey add` for a client that has a live key: revoke it first (a typo must not cut a client off)."""

    status = 409
    error_id = "open311-api-key-taken"


class TooManyPosts(Open311Error):
    """A client or an address filed more than the settings allow in the window; `retry_after` is in seconds."""

    status = 429
    error_id = "open311-rate-limit"
