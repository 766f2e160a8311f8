"""The states of an SMS, and what Kannel's answers and delivery reports do to them (pure rules).

Out: queued → sending (claimed, the attempt counted) → sent (Kannel took it) → delivered or failed (the delivery
report). Kannel not reached (refused, no connection in time) or answering 5xx: back to queued, tried again after a
wait that doubles. Kannel refusing it (4xx): failed. An attempt whose outcome is not known (Kannel may have taken
it: no answer in time, the server stopped meanwhile): unknown, never sent again blindly.

In: received (stored before anything else) → handled, or rejected (malformed, or empty).
"""

from __future__ import annotations

QUEUED, SENDING, SENT, DELIVERED, FAILED, UNKNOWN = "queued", "sending", "sent", "delivered", "failed", "unknown"
RECEIVED, HANDLED, REJECTED = "received", "handled", "rejected"
OUT, IN = "out", "in"
# Outcomes of one attempt (the sender's), named as the status they lead to; RETRY leads back to QUEUED.
RETRY = "retry"

# Kannel's delivery report types (the %d of the dlr-url) and what we call them.
DLR_DELIVERED, DLR_FAILED, DLR_BUFFERED, DLR_SMSC_SUBMIT, DLR_SMSC_REJECT = 1, 2, 4, 8, 16
DLR_NAMES = {DLR_DELIVERED: "delivered", DLR_FAILED: "failed", DLR_BUFFERED: "buffered",
             DLR_SMSC_SUBMIT: "smsc-submit", DLR_SMSC_REJECT: "smsc-reject"}
DLR_MASK = sum(DLR_NAMES)  # 31: every report
HANDED_TO_KANNEL = frozenset({SENDING, SENT, DELIVERED, FAILED, UNKNOWN})


def after_report(status: str, report: int) -> str:
    """The message's status after a delivery report. Delivered and failed are final, except that a failed part
    (a long SMS reports once per part on some carriers) fails the whole; reports come in any order (Kannel's
    fake SMSC reports "delivered" before "smsc-submit"), and may come before the sender has marked it sent."""
    if status not in HANDED_TO_KANNEL:
        return status  # never handed to Kannel: a stray report changes nothing
    if report in (DLR_FAILED, DLR_SMSC_REJECT):
        return FAILED
    if report == DLR_DELIVERED:
        return status if status == FAILED else DELIVERED
    if report in (DLR_BUFFERED, DLR_SMSC_SUBMIT) and status in (SENDING, UNKNOWN):
        return SENT  # the carrier has it
    return status


def outcome_of_answer(http_status: int) -> str:
    """sendsms's answer: 202 "0: Accepted for delivery" or "3: Queued for later delivery" (no SMSC connected; kept
    in bearerbox's store); 4xx Kannel refuses it (bad number, authorisation, "Not routable"); anything else (503
    "Temporal failure") Kannel did not take it."""
    if http_status in (200, 202):
        return SENT
    if 400 <= http_status < 500:
        return FAILED
    return RETRY


def retry_wait(attempts: int, first: float, longest: float) -> float:
    """Seconds before the next attempt after `attempts` failed ones: first, twice that, … up to longest."""
    return float(min(first * 2 ** max(attempts - 1, 0), longest))
