"""The FastAGI server: accept, read the environment, dispatch by script name, never strand the caller.

Whatever goes wrong here, the dialplan continues after AGI() and takes the caller to the agents;
this module's job is to end the AGI session promptly and to log why, with the call's unique id.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from ivr.dialplan_variables import AGI_ERROR
from ivr.fastagi.errors import AgiError, AgiHangup, AgiHeaderError, DuplicateRouteError
from ivr.fastagi.protocol import AgiCall, read_environment
from ivr.logs import call_id
from ivr.settings import FastAgiSettings

logger = logging.getLogger(__name__)

Ctx = TypeVar("Ctx")
Handler = Callable[[AgiCall, Ctx], Awaitable[None]]


class Router(Generic[Ctx]):
    """Script name → handler, registered explicitly; a second handler for a name is refused."""

    def __init__(self) -> None:
        self._routes: dict[str, Handler[Ctx]] = {}
        self._time_limits: dict[str, float] = {}

    def add(self, script: str, handler: Handler[Ctx], time_limit: float | None = None) -> None:
        """`time_limit`: seconds instead of fastagi.handler_timeout, for a menu the caller chose to spend
        time in (a self-service query), never for a step every caller goes through."""
        if script in self._routes:
            raise DuplicateRouteError(f"AGI script {script!r} already has a handler")
        self._routes[script] = handler
        if time_limit is not None:
            self._time_limits[script] = time_limit

    def time_limit(self, script: str, default: float) -> float:
        return self._time_limits.get(script, default)

    def resolve(self, script: str) -> Handler[Ctx] | None:
        return self._routes.get(script)

    @property
    def scripts(self) -> list[str]:
        return sorted(self._routes)


class FastAgiServer(Generic[Ctx]):
    def __init__(
        self,
        settings: FastAgiSettings,
        router: Router[Ctx],
        context_for: Callable[[AgiCall], Ctx],
        error_variable: str = AGI_ERROR,
    ) -> None:
        self.settings = settings
        self.error_variable = error_variable
        self.router = router
        self.context_for = context_for
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[Any]] = set()
        self.sessions_served = 0
        # For /metrics: sessions by (script, result), and protocol errors by kind (AgiError's class name).
        self.requests: collections.Counter[tuple[str, str]] = collections.Counter()
        self.protocol_errors: collections.Counter[str] = collections.Counter()

    @property
    def listening(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            # The stream's limit is the environment's size cap (and bounds a reply line too).
            self._accept, self.settings.host, self.settings.port, limit=self.settings.max_header_bytes,
            reuse_address=True,
        )
        logger.info("FastAGI listening on %s:%s", self.settings.host, self.settings.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for task in list(self._sessions):
            task.cancel()
        await asyncio.gather(*self._sessions, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None
        logger.info("FastAGI stopped")

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        try:
            await self._session(reader, writer)
        except asyncio.CancelledError:
            # Only stop() cancels sessions. Ending normally keeps Python 3.11's stream callback from
            # logging the cancellation as an "Exception in callback".
            pass
        finally:
            self._sessions.discard(task)
            self.sessions_served += 1

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            environment = await read_environment(
                reader, self.settings.max_header_bytes, self.settings.header_timeout
            )
        except AgiHeaderError as exc:
            logger.warning("[peer %s] FastAGI session refused: %s", peer, exc)
            self.protocol_errors[type(exc).__name__] += 1
            writer.close()
            return
        call = AgiCall(reader, writer, environment, self.settings.command_timeout)
        # Every record logged on this call's path (its handler, the tasks it starts) carries its unique id.
        token = call_id.set(call.uniqueid)
        try:
            await self._dispatch(call)
        finally:
            await call.close()
            call_id.reset(token)

    async def _dispatch(self, call: AgiCall) -> None:
        uid = call.uniqueid
        handler = self.router.resolve(call.script)
        if handler is None:
            logger.error("[%s] unknown AGI script %r; the caller goes on to the queue", uid, call.script)
            self.requests["(unknown)", "unknown-script"] += 1  # not the name: any peer could send any
            await self._note_failure(call, "unknown-script")
            return
        self.requests[call.script, await self._run(call, handler)] += 1

    async def _run(self, call: AgiCall, handler: Handler[Ctx]) -> str:
        """Run the handler; how it ended (ok, hangup, the AgiError's class, handler-timeout, handler-crashed)."""
        uid = call.uniqueid
        limit = self.router.time_limit(call.script, self.settings.handler_timeout)
        try:
            async with asyncio.timeout(limit):
                await handler(call, self.context_for(call))
        except AgiHangup as exc:
            logger.info("[%s] %s: caller hung up (%s)", uid, call.script, exc)
            return "hangup"
        except AgiError as exc:
            logger.error("[%s] %s failed: %s %s; the caller goes on to the queue", uid, call.script, exc, exc.reply)
            self.protocol_errors[type(exc).__name__] += 1
            await self._note_failure(call, type(exc).__name__)
            return type(exc).__name__
        except TimeoutError:
            logger.error("[%s] %s ran past %g s; the caller goes on to the queue", uid, call.script, limit)
            await self._note_failure(call, "handler-timeout")
            return "handler-timeout"
        except Exception:
            logger.exception("[%s] %s crashed; the caller goes on to the queue", uid, call.script)
            await self._note_failure(call, "handler-crashed")
            return "handler-crashed"
        return "ok"

    async def _note_failure(self, call: AgiCall, reason: str) -> None:
        """Tell the dialplan why (best effort: the channel may be gone already)."""
        with contextlib.suppress(AgiError):
            await call.command("SET VARIABLE", self.error_variable, reason, timeout=1.0)
