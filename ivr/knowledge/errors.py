"""Knowledge-base errors as data: each maps to an HTTP status and a stable error id."""

from __future__ import annotations

from ivr.agents.errors import AgentError


class KnowledgeError(AgentError):
    error_id = "knowledge-error"


class BadEntry(KnowledgeError):
    """The request or the import file gets a field wrong; `details` names the field."""

    status = 400
    error_id = "bad-knowledge-entry"


class EntryNotFound(KnowledgeError):
    """No such entry, or another department's: both look the same from outside (no probing)."""

    status = 404
    error_id = "knowledge-entry-not-found"


class NotForRole(KnowledgeError):
    status = 403
    error_id = "forbidden"
