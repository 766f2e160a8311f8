"""Our own small FastAGI layer (panoramisk's freezes the event loop on a half-sent header)."""

from ivr.fastagi.errors import (
    AgiCommandTimeout,
    AgiDeadChannel,
    AgiError,
    AgiHangup,
    AgiHeaderError,
    AgiInvalidCommand,
    AgiUsageError,
    DuplicateRouteError,
)
from ivr.fastagi.protocol import AgiCall, AgiReply, read_environment
from ivr.fastagi.server import FastAgiServer, Router

__all__ = [
    "AgiCall",
    "AgiCommandTimeout",
    "AgiDeadChannel",
    "AgiError",
    "AgiHangup",
    "AgiHeaderError",
    "AgiInvalidCommand",
    "AgiReply",
    "AgiUsageError",
    "DuplicateRouteError",
    "FastAgiServer",
    "Router",
    "read_environment",
]
