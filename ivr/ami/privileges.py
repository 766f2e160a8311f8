"""The manager classes the hotline's AMI user holds (manager.conf): what its actions and events need, no more.

Asterisk checks an action against the user's write classes and sends an event only to users with its read
class. Without `system` and `command`, whoever holds the AMI password cannot run CLI commands, restart
Asterisk, or Originate into System(), Exec() or a ${SHELL()} (manager.c asks for `system` there too).
"""

from __future__ import annotations

# Every action the server sends → the write class it is allowed with ("" = none needed; Asterisk registers some
# actions with several classes, e.g. Status: system, call or reporting, and any one of them suffices).
ACTION_CLASSES: dict[str, str] = {
    "Originate": "originate",  # callbacks, surveys, the hand-off's conference leg
    "Redirect": "call",  # the hand-off
    "Setvar": "call",
    "QueueAdd": "agent",  # seats logging in and out, pausing
    "QueueRemove": "agent",
    "QueuePause": "agent",
    "QueueStatus": "",  # the queue state read after each (re)connection
    "Status": "call",  # the live channels, after each (re)connection (ivr/calls/live_channels.py)
    "Ping": "",  # the client's keep-alive
}

# The events read (ivr/ami/events.py) come in these classes: system (FullyBooted, Shutdown, ContactStatus),
# call (Newchannel, Hangup, OriginateResponse, ConfbridgeJoin), agent (Queue*, Agent*), user (UserEvent).
READ_CLASSES = ("system", "call", "agent", "user")


def write_classes() -> str:
    return ",".join(sorted({cls for cls in ACTION_CLASSES.values() if cls}))


def read_classes() -> str:
    return ",".join(READ_CLASSES)
