"""Live view: a ticket that lets a signed-in page open the live engine's WebSocket.

The role check is here (``dashboard.deps``, operator, ops and admin); the engine, a
separate process (``compoundeye live``), checks the ticket's signature, expiry and single
use, and audits every stream it serves (``live.start``, ``live.end``).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Request

from compoundeye.settings import Settings
from dashboard.deps import CameraViewerDep, StateDep, client_ip
from dashboard.streaming.tickets import TICKET_SECONDS, TicketError, issue, live_key

router = APIRouter(prefix="/api/live", tags=["live"])


def live_ws_url(settings: Settings, request: Request) -> str:
    """The engine's WebSocket address as the page must use it."""
    if settings.live_public_url:
        return settings.live_public_url
    scheme = "wss" if request.url.scheme == "https" else "ws"
    host = request.url.hostname or "127.0.0.1"
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    return f"{scheme}://{host}:{settings.live_port}/ws"


def live_origin(settings: Settings, request: Request) -> str:
    """The origin the pages' CSP must allow in ``connect-src`` for the engine."""
    url = live_ws_url(settings, request)
    if url.startswith("/"):
        return ""  # served on the dashboard's own origin (behind a reverse proxy)
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@router.post("/ticket", summary="A 30 s single-use ticket for the live engine's WebSocket")
async def ticket(state: StateDep, caller: CameraViewerDep, request: Request) -> dict[str, Any]:
    try:
        value = issue(live_key(state.settings.data_dir), caller.name, caller.role, time.time(),
                      client_ip(request))
    except TicketError as exc:  # a role the guard admits but the engine would refuse
        raise HTTPException(403, detail=str(exc)) from None
    url = live_ws_url(state.settings, request)
    if url.startswith("/"):
        scheme = "wss" if request.url.scheme == "https" else "ws"
        url = f"{scheme}://{request.url.netloc}{url}"
    return {"url": url, "ticket": value, "expires_in": TICKET_SECONDS}
