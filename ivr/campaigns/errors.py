"""Campaign errors as data: each maps to an HTTP status and a stable error id (and to a message on the CLI)."""

from __future__ import annotations

from ivr.agents.errors import AgentError


class CampaignError(AgentError):
    error_id = "campaign-error"


class BadCampaign(CampaignError):
    """A script, channel, unit, quota or list that is not right; the message says which and what is expected."""

    status = 400
    error_id = "bad-campaign"


class CampaignNotFound(CampaignError):
    status = 404
    error_id = "campaign-not-found"


class CampaignRefused(CampaignError):
    """The campaign's state does not allow the action now; the message says why."""

    status = 409
    error_id = "campaign-refused"
