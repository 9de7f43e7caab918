"""Sign-in with a token (sets the session cookie), sign-out, and who am I."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dashboard.audit import record_audit
from dashboard.auth.sessions import CSRF_COOKIE, SESSION_COOKIE, SESSION_SECONDS
from dashboard.deps import AnyRoleDep, StateDep, client_ip, principal_from_request
from dashboard.pages import ROLE_HOME, login_page, safe_next

router = APIRouter(tags=["auth"])


@router.post("/auth/login", summary="Sign in with an API token; sets an HTTP-only cookie",
             response_class=RedirectResponse, status_code=303,
             responses={401: {"description": "unknown token"}})
async def login(
    request: Request,
    state: StateDep,
    token: Annotated[str, Form(min_length=1, max_length=256)],
    next_path: Annotated[str, Form(alias="next", max_length=512)] = "",
) -> Response:
    record = state.tokens.verify(token.strip())
    ip = client_ip(request)
    if record is None:
        await run_in_threadpool(record_audit, state, "unknown", "", "auth.login_failed", "",
                                {}, ip)
        return HTMLResponse(login_page("That token is not valid.", next_path), status_code=401)
    value, session = state.signer.issue(record.name, record.role, time.time())
    await run_in_threadpool(record_audit, state, record.name, record.role.value, "auth.login",
                            "", {"via": "sign-in page"}, ip)
    target = safe_next(next_path) or ROLE_HOME[record.role]
    response = RedirectResponse(target, status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_SECONDS, httponly=True,
                        samesite="strict", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, session.csrf, max_age=SESSION_SECONDS, httponly=False,
                        samesite="strict", secure=secure, path="/")
    return response


@router.post("/auth/logout", summary="Sign out (clears the session cookie)",
             response_class=RedirectResponse, status_code=303)
async def logout(request: Request, state: StateDep) -> Response:
    principal = principal_from_request(request, state, None)
    if principal is not None:
        await run_in_threadpool(record_audit, state, principal.name, principal.role.value,
                                "auth.logout", "", {}, client_ip(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/api/me", summary="The caller's name and role")
async def me(caller: AnyRoleDep) -> dict[str, Any]:
    return {"name": caller.name, "role": caller.role.value, "via": caller.via}
