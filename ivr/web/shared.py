"""What the pages share: static/common.js (the CSRF token, the API call, times and table cells), served at
/static/common.js and loaded by /campaigns and /orders before their own scripts."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).with_name("static")


def setup_routes(app: web.Application) -> None:
    app.router.add_static("/static", STATIC)
