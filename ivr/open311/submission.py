"""A POST to requests: the body read within its limit, decoded, and checked field by field.

The spec's clients send application/x-www-form-urlencoded; app and mini-program front ends often send JSON,
so both are read into the same fields. Every check happens before anything is written.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from aiohttp import web

from ivr.open311.errors import BadField, BodyTooLarge, WrongContentType
from ivr.open311.public import refuse_nul

MAX_BODY = 64 * 1024
FORM, JSON = "application/x-www-form-urlencoded", "application/json"
MAX_DESCRIPTION = 4000  # the spec's limit
MAX_NAME_PART = 50  # first_name and last_name: together within the order's citizen_name (100)
PHONE = re.compile(r"\+?\d{3,20}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
CJK = re.compile(r"[\u3400-\u9fff]")


async def read_fields(request: web.Request) -> dict[str, str]:
    """The body's fields as text: form-encoded or a JSON object (numbers allowed, for lat and long)."""
    kind = request.content_type
    if kind not in (FORM, JSON):
        declared = request.headers.get("Content-Type") or "no Content-Type"
        raise WrongContentType(f"send the request as {FORM} (or {JSON}), not {declared}")
    text = _decoded(await _body(request))
    if kind == FORM:
        try:
            fields = dict(parse_qsl(text, keep_blank_values=True, errors="strict"))
        except UnicodeDecodeError:
            raise BadField("the form body's %-escapes are not UTF-8") from None
    else:
        fields = _json_fields(text)
    for name, value in fields.items():
        refuse_nul(name, value)
    return fields


async def _body(request: web.Request) -> bytes:
    """At most MAX_BODY bytes: the declared length is checked first, and the bytes read are counted too
    (a chunked body declares none)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BodyTooLarge(f"the request body is over {MAX_BODY // 1024} KiB")
    body = bytearray()
    while chunk := await request.content.read(MAX_BODY + 1 - len(body)):
        body += chunk
        if len(body) > MAX_BODY:
            raise BodyTooLarge(f"the request body is over {MAX_BODY // 1024} KiB")
    return bytes(body)


def _decoded(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadField(f"the request body is not UTF-8 (byte {exc.start})") from None


def _json_fields(text: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except ValueError:
        raise BadField("the request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadField("the JSON body must be an object of fields")
    fields = {}
    for name, value in data.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise BadField(f"{name} must be text (or a number, for lat and long)")
        fields[name] = str(value)
    return fields


@dataclass(frozen=True)
class Submission:
    """What a client filed, checked."""

    service_code: str
    description: str
    address: str | None = None
    lat: float | None = None
    long: float | None = None
    phone: str | None = None
    citizen_name: str | None = None
    details: dict[str, str] = field(default_factory=dict)  # email, device and account ids, the photo's URL


def parse_submission(fields: Mapping[str, str]) -> Submission:
    text = {name: value.strip() for name, value in fields.items()}
    for required in ("service_code", "description"):
        if not text.get(required):
            raise BadField(f"{required} is required")
    if len(text["description"]) > MAX_DESCRIPTION:
        raise BadField(f"description is at most {MAX_DESCRIPTION} characters")
    lat, long = _position(text)
    address = text.get("address_string") or None
    if lat is None and address is None:
        raise BadField("a location is required: lat and long, or address_string"
                       + (" (address_id alone is not enough: this centre has no address register)"
                          if text.get("address_id") else ""))
    if address and len(address) > 300:
        raise BadField("address_string is at most 300 characters")
    for part in ("first_name", "last_name"):
        if len(text.get(part, "")) > MAX_NAME_PART:
            raise BadField(f"{part} is at most {MAX_NAME_PART} characters")
    return Submission(
        service_code=text["service_code"], description=text["description"],
        address=address, lat=lat, long=long, phone=_phone(text.get("phone")),
        citizen_name=citizen_name(text.get("first_name", ""), text.get("last_name", "")),
        details=_details(text))


def _position(text: Mapping[str, str]) -> tuple[float | None, float | None]:
    lat, long = text.get("lat"), text.get("long")
    if not lat and not long:
        return None, None
    if not (lat and long):
        raise BadField("lat and long come together: send both, or neither")
    return _coordinate("lat", lat, 90), _coordinate("long", long, 180)


def _coordinate(name: str, value: str, limit: float) -> float:
    try:
        number = float(value)
    except ValueError:
        raise BadField(f"{name} must be a decimal number of degrees (WGS84), not {value[:30]!r}") from None
    if not math.isfinite(number) or abs(number) > limit:
        raise BadField(f"{name} must be between -{limit:g} and {limit:g}")
    return number


def _phone(value: str | None) -> str | None:
    """Digits only (and a leading +), as Asterisk reports callers: so a later call finds this order."""
    if not value:
        return None
    digits = re.sub(r"[\s\-()]", "", value)
    if not PHONE.fullmatch(digits):
        raise BadField("phone must be a phone number: digits, optionally with +, spaces or dashes")
    return digits


def citizen_name(first: str, last: str) -> str | None:
    """A Chinese name is the family name, then the given name, with no space; others first name first."""
    if CJK.search(first + last):
        return (last + first) or None
    return " ".join(part for part in (first, last) if part) or None


def _details(text: Mapping[str, str]) -> dict[str, str]:
    details = {name: text[name] for name in ("email", "device_id", "account_id", "media_url") if text.get(name)}
    for name in ("device_id", "account_id"):
        if len(details.get(name, "")) > 100:
            raise BadField(f"{name} is at most 100 characters")
    if "email" in details and (len(details["email"]) > 254 or not EMAIL.fullmatch(details["email"])):
        raise BadField("email is not an e-mail address")
    if "media_url" in details:
        url = urlsplit(details["media_url"])
        if url.scheme not in ("http", "https") or not url.netloc or len(details["media_url"]) > 1000:
            raise BadField("media_url must be an http or https URL (at most 1000 characters)")
    return details

