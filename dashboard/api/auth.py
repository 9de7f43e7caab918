"""Sign-in with a token (sets the session cookie), sign-out, and who am I."""

from __future__ import annotations

import hmac
import time
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dashboard.audit import record_audit
from dashboard.auth.sessions import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    SESSION_SECONDS,
)
from dashboard.deps import AnyRoleDep, StateDep, client_ip, principal_from_request
from dashboard.pages import ROLE_HOME, login_page, safe_next

router = APIRouter(tags=["auth"])


@router.post("/auth/login", summary="Sign in with an API token; sets an HTTP-only cookie",
             response_class=RedirectResponse, status_code=303,
             responses={401: {"description": "unknown token"},
                        429: {"description": "too many failed sign-ins; see Retry-After"}})
async def login(
    request: Request,
    state: StateDep,
    token: Annotated[str, Form(min_length=1, max_length=256)],
    next_path: Annotated[str, Form(alias="next", max_length=512)] = "",
) -> Response:
    ip = client_ip(request) or ""
    wait = await run_in_threadpool(state.signin.retry_after, ip)
    if wait is not None:
        return HTMLResponse(login_page("Too many failed sign-ins; try again later.", next_path),
                            status_code=429, headers={"Retry-After": str(wait)})
    record = state.tokens.verify(token.strip())
    if record is None:
        await run_in_threadpool(state.signin.failed, ip)  # audited in bursts, with a count
        return HTMLResponse(login_page("That token is not valid.", next_path), status_code=401)
    value, session = await run_in_threadpool(
        lambda: state.sessions.create(record.name, record.role, time.time(), ip=ip,
                                      user_agent=request.headers.get("user-agent", "")))
    await run_in_threadpool(record_audit, state, record.name, record.role.value, "auth.login",
                            "", {"via": "sign-in page", "session": session.id}, ip or None)
    target = safe_next(next_path) or ROLE_HOME[record.role]
    response = RedirectResponse(target, status_code=303)
    secure = request.url.scheme == "https"
    response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_SECONDS, httponly=True,
                        samesite="strict", secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, session.csrf, max_age=SESSION_SECONDS, httponly=False,
                        samesite="strict", secure=secure, path="/")
    return response


@router.post("/auth/logout", summary="Sign out: ends the session at once (needs the CSRF token)",
             response_class=RedirectResponse, status_code=303,
             responses={403: {"description": "missing or wrong CSRF token"}})
async def logout(
    request: Request,
    state: StateDep,
    csrf: Annotated[str, Form(alias=CSRF_FIELD, max_length=128)] = "",
) -> Response:
    principal = await run_in_threadpool(principal_from_request, request, state, None)
    if principal is not None and principal.via == "session":
        sent = csrf or request.headers.get(CSRF_HEADER, "")
        if not sent or not hmac.compare_digest(sent, principal.csrf):
            raise HTTPException(403, detail=f"sign-out needs the {CSRF_FIELD} form field or "
                                            f"the {CSRF_HEADER} header")
        await run_in_threadpool(state.sessions.end, request.cookies.get(SESSION_COOKIE, ""))
        await run_in_threadpool(record_audit, state, principal.name, principal.role.value,
                                "auth.logout", "", {}, client_ip(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")
    return response


@router.get("/api/me", summary="The caller's name and role")
async def me(caller: AnyRoleDep) -> dict[str, Any]:
    return {"name": caller.name, "role": caller.role.value, "via": caller.via}
