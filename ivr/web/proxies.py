"""Behind a reverse proxy every request comes from the proxy's address. For a proxy named in
web.trusted_proxies, the client is the right-most address of X-Forwarded-For that is not itself a trusted proxy
(the left part of the header is whatever the client sent, so it is never believed)."""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web
from aiohttp.typedefs import Middleware

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def forwarded_client(trusted: Iterable[str]) -> Middleware:
    networks = [ipaddress.ip_network(item, strict=False) for item in trusted]

    @web.middleware
    async def middleware(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if networks and _within(request.remote, networks):
            client = client_of(request.headers.getall("X-Forwarded-For", []), networks)
            if client is not None:
                request = request.clone(remote=client)
        return await handler(request)

    return middleware


def client_of(forwarded: list[str], networks: list[Network]) -> str | None:
    hops = [hop.strip() for value in forwarded for hop in value.split(",")]
    for hop in reversed(hops):
        if not _within(hop, networks):
            return hop if _is_address(hop) else None
    return None


def _within(address: str | None, networks: list[Network]) -> bool:
    if address is None or not _is_address(address):
        return False
    return any(ipaddress.ip_address(address) in network for network in networks)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
