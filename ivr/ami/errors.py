"""AMI errors as data."""

from __future__ import annotations


class AmiError(Exception):
    """Base of AMI failures."""


class AmiNotConnected(AmiError):
    """No logged-in AMI session right now (Asterisk down or restarting)."""


class AmiActionTimeout(AmiError):
    """Asterisk did not answer an action in time."""


class AmiActionFailed(AmiError):
    """Asterisk answered an action with Response: Error; the message is Asterisk's."""
