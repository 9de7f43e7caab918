"""``compoundeye live``: the live-view engine as a process of its own.

A WebSocket server (the ``websockets`` library) on ``CE_LIVE_PORT``: ``/ws`` for pages,
``GET /health`` for probes and ``GET /status`` (loopback callers only) with the upstream
sessions it holds. It runs beside the dashboard under the same supervisor; it shares
the data directory (the ticket key, the SQLite store) or ``CE_DATABASE_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import secrets
import sys
import threading
import time
from http import HTTPStatus
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from compoundeye.process import load_site_or_report, run_until_signalled
from compoundeye.settings import Settings
from compoundeye.site.models import Site
from compoundeye.store import Store
from dashboard.streaming.hub import Hub
from dashboard.streaming.session import Auditor, LiveSession
from dashboard.streaming.tickets import TicketChecker, TicketError, live_key

log = logging.getLogger(__name__)

HELLO_TIMEOUT = 5.0
MAX_CONNECTIONS = 512
WRITE_LIMIT = 256 * 1024
"""Transport buffer above which a send waits; the session's own queue bounds the rest."""


def _loopback(address: Any) -> bool:
    try:
        return ipaddress.ip_address(address[0]).is_loopback
    except (ValueError, TypeError, IndexError):
        return False


class LiveEngine:
    """The engine: ``run()`` serves until ``stop()`` (from any thread or a signal)."""

    def __init__(self, site: Site, settings: Settings, *, host: str = "127.0.0.1",
                 port: int | None = None, auditor: Auditor | None = None) -> None:
        self.site = site
        self.settings = settings
        self.host = host
        self.port = settings.live_port if port is None else port
        self._auditor = auditor
        self._store: Store | None = None
        self.hub = Hub(site, linger=settings.live_linger_seconds)
        self.sessions: dict[str, LiveSession] = {}
        self.dropped = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = threading.Event()
        self.ready = threading.Event()
        self.bound_port: int | None = None

    def stop(self) -> None:
        self._stop_requested.set()
        loop, event = self._loop, self._stop
        if loop is not None and event is not None:
            loop.call_soon_threadsafe(event.set)

    def run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        if self._stop_requested.is_set():
            return
        if self._auditor is None:
            self._store = Store.from_settings(self.settings)
            self._auditor = self._store.audit
        checker = TicketChecker(live_key(self.settings.data_dir))
        reaper = asyncio.create_task(self.hub.run_reaper(self._stop))
        try:
            async with serve(lambda ws: self._connection(ws, checker), self.host, self.port,
                             process_request=self._http, max_size=64 * 1024,
                             write_limit=WRITE_LIMIT, ping_interval=20, ping_timeout=20,
                             compression=None) as server:
                self.bound_port = _port_of(server)
                self.ready.set()
                # One line on stdout for the supervisor and the fixtures (their ready_prefix).
                sys.stdout.write(f"READY live {self.bound_port}\n")
                sys.stdout.flush()
                log.info("live engine on ws://%s:%d/ws (linger %.0f s)", self.host,
                         self.bound_port, self.hub.linger)
                await self._stop.wait()
                server.close(close_connections=True)
        finally:
            await self.hub.close_all()
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            if self._store is not None:
                self._store.close()

    def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/ws":
            return None  # the WebSocket handshake goes on
        if path == "/health":
            return connection.respond(HTTPStatus.OK, "ok\n")
        if path == "/status":
            if not _loopback(connection.remote_address):
                return connection.respond(HTTPStatus.FORBIDDEN, "loopback only\n")
            response = connection.respond(HTTPStatus.OK, json.dumps(self.status()) + "\n")
            response.headers["Content-Type"] = "application/json"
            return response
        return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")

    def status(self) -> dict[str, Any]:
        out = self.hub.status()
        out["viewers"] = len(self.sessions)
        out["channels"] = sum(len(s.channels) for s in self.sessions.values())
        out["dropped_viewers"] = self.dropped
        out["queued_bytes_max"] = max((s.queued_bytes for s in self.sessions.values()),
                                      default=0)
        return out

    async def _connection(self, ws: ServerConnection, checker: TicketChecker) -> None:
        if len(self.sessions) >= MAX_CONNECTIONS:
            await ws.close(1013, "engine full")
            return
        try:
            hello = json.loads(await asyncio.wait_for(ws.recv(), HELLO_TIMEOUT))
            value = hello.get("ticket") if isinstance(hello, dict) else None
            ticket = checker.check(value if isinstance(value, str) else "", time.time())
        except (TimeoutError, ConnectionClosed):
            return
        except (TicketError, ValueError) as exc:
            with contextlib.suppress(ConnectionClosed):
                await ws.send(json.dumps({"event": "error", "reason": str(exc)}))
                await ws.close(4001, "not allowed")
            return
        ip = ticket.ip or (str(ws.remote_address[0]) if ws.remote_address else None)
        session_id = secrets.token_hex(8)
        assert self._auditor is not None

        async def close(code: int, reason: str) -> None:
            with contextlib.suppress(ConnectionClosed):
                await ws.close(code, reason)

        session = LiveSession(self.hub, ticket, self._auditor, ws.send, close,
                              session_id=session_id, ip=ip)
        self.sessions[session_id] = session
        pump = asyncio.create_task(session.pump())
        reason = "viewer closed"
        try:
            session.enqueue(json.dumps({"event": "hello", "session": session_id,
                                        "name": ticket.name, "role": ticket.role.value}))
            async for message in ws:
                if isinstance(message, str):
                    await session.handle(message)
        except ConnectionClosed:
            reason = "connection lost"
        finally:
            if session.dropped:
                self.dropped += 1
            await session.end(reason)
            pump.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await pump
            del self.sessions[session_id]


def _port_of(server: Server) -> int:
    for sock in server.sockets:
        return int(sock.getsockname()[1])
    raise RuntimeError("the live engine has no listening socket")


def run(args: argparse.Namespace) -> int:
    """Handler of ``compoundeye live --site FILE [--host --port]``."""
    logging.getLogger("websockets").setLevel(logging.WARNING)  # a line per probe is noise
    site = load_site_or_report(args.site, credentials=True)
    if site is None:
        return 2
    settings = Settings()
    engine = LiveEngine(site, settings, host=args.host, port=args.port)
    return run_until_signalled(engine)
