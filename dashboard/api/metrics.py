"""``GET /metrics``: Prometheus text; open on loopback, ops or admin token elsewhere."""

from __future__ import annotations

import ipaddress
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import PlainTextResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from compoundeye.auth.roles import Role
from dashboard.deps import StateDep, client_ip, principal_from_request

router = APIRouter(tags=["metrics"])
_bearer = HTTPBearer(auto_error=False)


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@router.get("/metrics", response_class=PlainTextResponse,
            summary="Prometheus metrics; no token from loopback, ops/admin token otherwise")
async def metrics(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> PlainTextResponse:
    if not _loopback(client_ip(request)):
        principal = principal_from_request(request, state, credentials)
        if principal is None:
            raise HTTPException(401, detail="metrics need a token off loopback",
                                headers={"WWW-Authenticate": "Bearer"})
        if principal.role not in (Role.OPS, Role.ADMIN):
            raise HTTPException(403, detail="metrics need the ops or admin role")
    return PlainTextResponse(state.metrics.render(),
                             media_type="text/plain; version=0.0.4; charset=utf-8")
