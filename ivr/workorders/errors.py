"""Work-order errors as data: each maps to an HTTP status and a stable error id."""

from __future__ import annotations

from ivr.agents.errors import AgentError


class OrderError(AgentError):
    error_id = "order-error"


class BadOrder(OrderError):
    """The request names a field wrongly or leaves one out; `details` names the field."""

    status = 400
    error_id = "bad-order"


class OrderNotFound(OrderError):
    """No such order, or not one this user may see: both look the same from outside (no probing)."""

    status = 404
    error_id = "order-not-found"


class ActionRefused(OrderError):
    """The lifecycle does not allow the action now; the message says why."""

    status = 409
    error_id = "action-refused"


class ChangedMeanwhile(OrderError):
    """Someone else changed the order between reading and writing it; read it again."""

    status = 409
    error_id = "changed-meanwhile"


class Forbidden(OrderError):
    status = 403
    error_id = "forbidden"
