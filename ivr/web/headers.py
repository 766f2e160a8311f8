"""Security headers on every answer, the pages' and the API's, errors included; no server version.

The pages load their scripts, styles and the vendored Chart.js from this server and have no inline script or
style, so the policy allows 'self' only; images may be data: URLs (Chart.js), the wallboard's and campaigns'
streams and the desk's websocket are same-origin connections.
"""

from __future__ import annotations

from aiohttp import web

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:",
    "connect-src 'self'", "media-src 'self' blob:", "object-src 'none'", "base-uri 'none'", "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Server": "hotline",  # aiohttp would name itself and its Python version
}


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.update(SECURITY_HEADERS)


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(_add_headers)
