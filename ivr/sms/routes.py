"""Kannel's calls to us: incoming SMS (POSTed with the text as the body, as the rendered configuration has smsbox
do; or GET, or a POSTed form, with the text a field) and delivery reports, each with the token only Kannel knows.
Answers are plain text: 200 with an empty body when taken (smsbox texts nothing back: its sms-service has
max-messages 0), 403 for a bad token, 400 saying what was malformed, and 503 with an empty body while the database
is away, so that smsbox tries again (http-request-retry). Control characters (NUL, which PostgreSQL refuses) are
taken out of what Kannel passes, and the lengths checked, so bad data is never a 503 (Kannel would retry it in
vain and then drop it)."""

from __future__ import annotations

import hmac
import logging
import re
from datetime import UTC, datetime

from aiohttp import web

from ivr import keys
from ivr.db.engine import DATABASE_ERRORS
from ivr.db.limits import INT_MAX
from ivr.sms import delivery
from ivr.sms.inbox import BadIncoming, cleaned, parse
from ivr.sms.kannel import DLR_PATH, INCOMING_PATH

logger = logging.getLogger(__name__)
MESSAGE_ID = re.compile(r"[0-9]{1,10}")  # ASCII digits: str.isdigit() takes "١" and "²"


FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


async def incoming(request: web.Request) -> web.Response:
    fields = dict(request.query)
    if request.method == "POST":
        fields.update(await _posted(request))
    refused = _refused(request, fields)
    if refused is not None:
        return refused
    fields = cleaned(fields)
    inbox = request.app[keys.SMS_INBOX]
    try:
        sms = parse(fields)
    except BadIncoming as exc:
        try:
            await inbox.reject(fields, str(exc))
        except DATABASE_ERRORS as away:
            return _away("incoming SMS (rejected)", away)
        return _plain(400, str(exc))
    try:
        await inbox.receive(sms)
    except DATABASE_ERRORS as exc:
        return _away(f"incoming SMS {sms.kannel_id}", exc)
    return web.Response(text="")


async def delivery_report(request: web.Request) -> web.Response:
    fields = dict(request.query)
    refused = _refused(request, fields)
    if refused is not None:
        return refused
    fields = cleaned(fields)
    message_id, report = fields.get("id", ""), fields.get("status", "")
    if not MESSAGE_ID.fullmatch(message_id) or int(message_id) > INT_MAX:
        return _plain(400, "id is missing or not a message id")
    if not MESSAGE_ID.fullmatch(report):
        return _plain(400, "status is missing or not a delivery report type (%d: 1, 2, 4, 8 or 16)")
    try:
        status = await request.app[keys.SMS_STORE].report(int(message_id), int(report), fields.get("answer", ""),
                                                          datetime.now(UTC))
    except DATABASE_ERRORS as exc:
        return _away(f"delivery report for sms {message_id}", exc)
    if status is None:
        return _plain(404, f"no outgoing SMS {message_id}")
    logger.info("sms %s: delivery report %s (%s): %s", message_id, report,
                delivery.DLR_NAMES.get(int(report), "unknown type"), status)
    return web.Response(text="")


async def _posted(request: web.Request) -> dict[str, str]:
    """A form's fields; or else (Kannel's post-url) the body as the text, in its charset (UTF-8 unless it says;
    a binary SMS's bytes that are no text become U+FFFD)."""
    if request.content_type in FORMS:
        form = await request.post()
        return {name: value for name, value in form.items() if isinstance(value, str)}
    body = await request.read()
    try:
        return {"text": body.decode(request.charset or "utf-8", errors="replace")}
    except LookupError:  # a charset Python does not know
        return {"text": body.decode("utf-8", errors="replace")}


def _refused(request: web.Request, fields: dict[str, str]) -> web.Response | None:
    expected = request.app[keys.SECRETS].sms_token
    given = fields.get("token", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        logger.warning("%s %s from %s: bad or missing token", request.method, request.path, request.remote)
        return _plain(403, "bad or missing token")
    return None


def _plain(status: int, message: str) -> web.Response:
    return web.Response(status=status, text=message + "\n")


def _away(what: str, exc: BaseException) -> web.Response:
    logger.warning("%s: database unavailable (%s): 503, Kannel tries again", what, type(exc).__name__)
    return web.Response(status=503, text="")


def setup_routes(app: web.Application) -> None:
    app.router.add_get(INCOMING_PATH, incoming, name="sms-incoming")
    app.router.add_post(INCOMING_PATH, incoming)
    app.router.add_get(DLR_PATH, delivery_report, name="sms-dlr")
