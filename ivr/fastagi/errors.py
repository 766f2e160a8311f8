"""FastAGI errors as data: each carries what Asterisk said, so a log line can show it."""

from __future__ import annotations


class AgiError(Exception):
    """Base of everything that can go wrong on a FastAGI connection."""

    def __init__(self, message: str, reply: str = "") -> None:
        super().__init__(message)
        self.reply = reply


class AgiHeaderError(AgiError):
    """The AGI environment was malformed, too large, cut short or too slow to arrive."""


class AgiHangup(AgiError):
    """The channel hung up (EOF, a HANGUP line, or result=-1): stop talking to it."""


class AgiCommandTimeout(AgiError):
    """Asterisk did not answer a command in time."""


class AgiInvalidCommand(AgiError):
    """510: Asterisk does not know the command."""


class AgiUsageError(AgiError):
    """520: the command's syntax was wrong; `reply` holds the usage text Asterisk sent."""


class AgiDeadChannel(AgiError):
    """511: the command is not allowed on a dead channel."""


class AgiProtocolError(AgiError):
    """Asterisk sent a line that is not an AGI reply."""


class DuplicateRouteError(ValueError):
    """Two handlers were registered for the same AGI script name."""
