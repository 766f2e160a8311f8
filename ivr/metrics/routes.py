"""GET /metrics for Prometheus: no session needed, but only loopback clients, or others with the metrics token.

The figures say how busy the centre is and which parts fail, nothing about citizens; still, they are not for
everyone who can reach the web port. Prometheus on the same machine scrapes without a token; one elsewhere
sends `Authorization: Bearer <metrics_token>` (secrets.toml). Behind a reverse proxy on the same machine every
client looks like loopback: the proxy must then not pass /metrics on (docs/operations.md).
"""

from __future__ import annotations

import hmac
import ipaddress

from aiohttp import hdrs, web
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from ivr import keys
from ivr.web.auth import error_response

PATH = "/metrics"


async def metrics(request: web.Request) -> web.Response:
    refusal = refusal_of(request, request.app[keys.SECRETS].metrics_token)
    if refusal is not None:
        return refusal
    body = await request.app[keys.METRICS].scrape()
    return web.Response(body=body, headers={hdrs.CONTENT_TYPE: CONTENT_TYPE_PLAIN_0_0_4})


def refusal_of(request: web.Request, token: str) -> web.Response | None:
    """None when the client may read the metrics; otherwise the 403 that says why."""
    header = request.headers.get(hdrs.AUTHORIZATION)
    if header is not None:
        scheme, _, given = header.partition(" ")
        if scheme.lower() == "bearer" and token and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        return error_response(403, "metrics-bad-token", "the Authorization header is not Bearer with the metrics "
                              "token (metrics_token in the server's secrets.toml)")
    if is_loopback(request.remote):
        return None
    return error_response(403, "metrics-loopback-only", "/metrics answers clients on this machine; from elsewhere "
                          "send Authorization: Bearer <metrics_token from the server's secrets.toml>",
                          {"client": request.remote or "unknown"})


def is_loopback(remote: str | None) -> bool:
    try:
        address = ipaddress.ip_address(remote or "")
    except ValueError:  # a Unix socket, or no address at all
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def setup_routes(app: web.Application) -> None:
    app.router.add_get(PATH, metrics, name="metrics")
