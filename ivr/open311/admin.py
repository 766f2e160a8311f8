"""`hotline apikey add NAME` and `hotline apikey revoke NAME`: the Open311 clients' keys."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from ivr.db.engine import with_store
from ivr.open311.api_keys import ApiKeyStore
from ivr.settings import Settings

T = TypeVar("T")
Command = Callable[[Any, str, str, Callable[[Settings, argparse.Namespace], int]], argparse.ArgumentParser]


def register(commands: Any, command: Command) -> None:
    apikey = commands.add_parser("apikey", help="Open311 clients' API keys").add_subparsers(title="actions")
    add = command(apikey, "add", "make an API key for an Open311 client; prints the key once", cmd_apikey_add)
    add.add_argument("name", help="the client, e.g. wechat or city-portal (orders filed with the key name it)")
    revoke = command(apikey, "revoke", "revoke a client's API key: it files nothing more", cmd_apikey_revoke)
    revoke.add_argument("name")
    command(apikey, "list", "list the clients and whether their key is live", cmd_apikey_list)


def cmd_apikey_add(settings: Settings, arguments: argparse.Namespace) -> int:
    key = _with_keys(settings, lambda store: store.add(arguments.name, datetime.now(UTC)))
    print(f"[hotline] API key for {arguments.name}: {key}")
    print("[hotline] shown only now: only its hash is stored")
    return 0


def cmd_apikey_revoke(settings: Settings, arguments: argparse.Namespace) -> int:
    if not _with_keys(settings, lambda store: store.revoke(arguments.name)):
        print(f"hotline: no live API key named {arguments.name!r}")
        return 1
    print(f"[hotline] API key of {arguments.name} revoked")
    return 0


def cmd_apikey_list(settings: Settings, _arguments: argparse.Namespace) -> int:
    for name, active, created in _with_keys(settings, lambda store: store.all()):
        print(f"{name}\t{'live' if active else 'revoked'}\t{created:%Y-%m-%d}")
    return 0


def _with_keys(settings: Settings, use: Callable[[ApiKeyStore], Awaitable[T]]) -> T:
    return asyncio.run(with_store(settings.database, ApiKeyStore, use))
