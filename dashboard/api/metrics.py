"""``GET /metrics``: Prometheus text; open on loopback, ops or admin token elsewhere."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from compoundeye.auth.roles import Role
from dashboard.deps import StateDep, client_ip, peer_ip, principal_from_request
from dashboard.guards import is_loopback

router = APIRouter(tags=["metrics"])
_bearer = HTTPBearer(auto_error=False)


def _from_loopback(request: Request) -> bool:
    """The socket peer is loopback, and so is the client a trusted proxy named: a local
    reverse proxy forwarding an outside caller does not open the metrics to it."""
    return is_loopback(peer_ip(request)) and is_loopback(client_ip(request))


@router.get("/metrics", response_class=PlainTextResponse,
            summary="Prometheus metrics; no token from loopback, ops/admin token otherwise")
async def metrics(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> PlainTextResponse:
    if not _from_loopback(request):
        principal = principal_from_request(request, state, credentials)
        if principal is None:
            raise HTTPException(401, detail="metrics need a token off loopback",
                                headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in (Role.OPS, Role.ADMIN):
            raise HTTPException(403, detail="metrics need the ops or admin role")
    return PlainTextResponse(state.metrics.render(),
                             media_type="text/plain; version=0.0.4; charset=utf-8")
