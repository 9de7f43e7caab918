"""The dashboard's outer guards, in one place: body cap, socket peer, proxies, hosts, HTTPS.

Order, outermost first:

1. :class:`BodyLimit`: a request body over ``CE_MAX_BODY_BYTES`` gets 413 before anything
   parses it (by ``Content-Length`` at once, or while a chunked body streams in). Starlette
   and uvicorn have no such cap; this is a small ASGI wrapper of our own.
2. :class:`SocketPeer`: keeps the TCP peer's address in ``scope["state"]["peer"]`` before
   any proxy header can replace ``scope["client"]``, so checks that must be about the
   socket (``/metrics`` on loopback) read the truth.
3. uvicorn's own ``ProxyHeadersMiddleware``, only when ``CE_TRUSTED_PROXIES`` names
   proxies: ``X-Forwarded-For``/``-Proto`` count only from those addresses. uvicorn's own
   option is switched off in ``serve.py`` (its default trusts loopback).
4. Starlette's ``TrustedHostMiddleware`` with ``CE_ALLOWED_HOSTS`` (loopback names when
   unset): any other ``Host`` gets 400.
5. :func:`https_headers`: HSTS on responses served over https (directly or through a
   trusted proxy's ``X-Forwarded-Proto``).
"""

from __future__ import annotations

import ipaddress
import json

from fastapi import FastAPI, Request, Response
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from compoundeye.settings import Settings

HSTS = "max-age=31536000; includeSubDomains"


class BodyLimit:
    """413 for a request body over ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await self._refuse(send, 400, "Content-Length is not a number")
                    return
                if declared > self.max_bytes:
                    await self._refuse(send, 413, self._message())
                    return
        seen = 0
        refused = False

        async def counted() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # Answer now; the app sees the client gone and its answer is dropped.
                    refused = True
                    await self._refuse(send, 413, self._message())
                    return {"type": "http.disconnect"}
            return message

        async def watched(message: Message) -> None:
            if not refused:
                await send(message)

        await self.app(scope, counted, watched)

    def _message(self) -> str:
        return f"request body over the {self.max_bytes} byte limit"

    @staticmethod
    async def _refuse(send: Send, status: int, detail: str) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class SocketPeer:
    """Records the socket peer before proxy headers may rewrite ``scope["client"]``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            client = scope.get("client")
            scope.setdefault("state", {})["peer"] = client[0] if client else None
        await self.app(scope, receive, send)


def socket_peer(request: Request) -> str | None:
    """The TCP peer's address (never a forwarded header's claim)."""
    state = request.scope.get("state") or {}
    if "peer" in state:
        peer: str | None = state["peer"]
        return peer
    return request.client.host if request.client else None


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is a loopback address."""
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def install(app: FastAPI, settings: Settings) -> None:
    """Add the guards to the app (Starlette runs the last added outermost)."""
    app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_host_list)
    if settings.trusted_proxy_list:
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxy_list)
    app.add_middleware(SocketPeer)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)


def https_headers(request: Request, response: Response) -> None:
    """HSTS when the request came over https."""
    if request.url.scheme == "https":
        response.headers.setdefault("Strict-Transport-Security", HSTS)
