"""Every dependency the routes use, as ``Annotated`` aliases in one place."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from compoundeye.auth.roles import ALL_ROLES, Role
from dashboard.auth.principal import Principal
from dashboard.auth.sessions import CSRF_HEADER, SESSION_COOKIE
from dashboard.guards import socket_peer
from dashboard.state import AppState

_bearer = HTTPBearer(auto_error=False, description="An API token from `compoundeye token add`")
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_state(request: Request) -> AppState:
    """The application state built by the lifespan."""
    state: AppState = request.app.state.ce
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def _unauthorised(reason: str) -> HTTPException:
    return HTTPException(401, detail=reason, headers={"WWW-Authenticate": "Bearer"})


def principal_from_request(
    request: Request, state: AppState, credentials: HTTPAuthorizationCredentials | None
) -> Principal | None:
    """Who the caller is (bearer token first, then session cookie), or None."""
    if credentials is not None:
        record = state.tokens.verify(credentials.credentials)
        if record is None:
            raise _unauthorised("unknown or revoked token")
        return Principal(record.name, record.role, "bearer")
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    session = state.sessions.get(cookie, time.time())
    if session is None:
        return None  # signed out, ended by an admin or a revoke, or expired
    record = state.tokens.by_name(session.name)
    if record is None or record.role != session.role:
        return None  # the token was revoked or changed role since sign-in
    return Principal(session.name, session.role, "session", session.csrf)


def get_principal(
    request: Request,
    state: StateDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The authenticated caller; cookie-authenticated writes must carry the CSRF token."""
    principal = principal_from_request(request, state, credentials)
    if principal is None:
        raise _unauthorised("sign in or send a bearer token")
    if principal.via == "session" and request.method not in _SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not sent or sent != principal.csrf:
            raise HTTPException(403, detail=f"missing or wrong {CSRF_HEADER} header")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


class RoleGuard:
    """A dependency admitting only callers with one of ``roles``."""

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    def __call__(self, principal: PrincipalDep) -> Principal:
        if principal.role not in self.roles:
            allowed = ", ".join(sorted(r.value for r in self.roles))
            raise HTTPException(403, detail=f"role {principal.role.value} may not do this "
                                            f"(needs {allowed})")
        return principal


ALERT_ROLES = (Role.OPERATOR, Role.ADMIN)
CAMERA_ROLES = (Role.OPS, Role.OPERATOR, Role.ADMIN)
UPTIME_ROLES = (Role.OPS, Role.ADMIN)
INVESTIGATION_ROLES = (Role.INVESTIGATOR, Role.ADMIN)
ADMIN_ROLES = (Role.ADMIN,)

OperatorDep = Annotated[Principal, Depends(RoleGuard(*ALERT_ROLES))]
CameraViewerDep = Annotated[Principal, Depends(RoleGuard(*CAMERA_ROLES))]
OpsDep = Annotated[Principal, Depends(RoleGuard(*UPTIME_ROLES))]
InvestigatorDep = Annotated[Principal, Depends(RoleGuard(*INVESTIGATION_ROLES))]
AdminDep = Annotated[Principal, Depends(RoleGuard(*ADMIN_ROLES))]
AnyRoleDep = Annotated[Principal, Depends(RoleGuard(*ALL_ROLES))]


def client_ip(request: Request) -> str | None:
    """The client's address: the socket peer, or what a proxy named in
    ``CE_TRUSTED_PROXIES`` forwarded (``X-Forwarded-For``); never an untrusted claim."""
    return request.client.host if request.client else None


def peer_ip(request: Request) -> str | None:
    """The TCP peer's address, whatever any proxy header says."""
    return socket_peer(request)
