"""The HTML pages: each checks the session and role, then serves its static shell.

Pages carry no data; their scripts call the API with the session cookie (and the CSRF
header on writes).
"""

from __future__ import annotations

import html
from importlib import resources
from pathlib import Path
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from compoundeye.auth.roles import ALL_ROLES, Role
from dashboard.deps import (
    ADMIN_ROLES,
    ALERT_ROLES,
    CAMERA_ROLES,
    INVESTIGATION_ROLES,
    StateDep,
    principal_from_request,
)

STATIC_DIR = Path(str(resources.files("dashboard") / "static"))

ROLE_HOME: dict[Role, str] = {
    Role.OPERATOR: "/",
    Role.INVESTIGATOR: "/recordings",
    Role.OPS: "/cameras",
    Role.ADMIN: "/",
}

PAGES: dict[str, tuple[str, frozenset[Role]]] = {
    "/": ("desk.html", frozenset(ALERT_ROLES)),
    "/cameras": ("cameras.html", frozenset(CAMERA_ROLES)),
    "/recordings": ("recordings.html", frozenset(INVESTIGATION_ROLES)),
    "/map": ("map.html", ALL_ROLES),
    "/live": ("live.html", frozenset(CAMERA_ROLES)),
    "/audit": ("audit.html", frozenset(ADMIN_ROLES)),
}

router = APIRouter(include_in_schema=False)


def safe_next(path: str) -> str | None:
    """A local path to return to after sign-in, or None (no open redirects)."""
    if path in PAGES:
        return path
    return None


def login_page(error: str = "", next_path: str = "") -> str:
    """The sign-in page with an optional error message."""
    template = (STATIC_DIR / "login.html").read_text(encoding="utf-8")
    message = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return (template.replace("<!--ERROR-->", message)
            .replace("__NEXT__", html.escape(safe_next(next_path) or "", quote=True)))


def _forbidden(role: Role, path: str, csrf: str) -> HTMLResponse:
    home = ROLE_HOME[role]
    body = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not allowed'
            f'</title><link rel="stylesheet" href="/static/app.css"></head><body class="plain">'
            f'<main class="narrow"><h1>Not for the {html.escape(role.value)} role</h1>'
            f'<p>{html.escape(path)} is not part of your work.</p>'
            f'<p><a href="{home}">Go to your page</a> · '
            f'<form method="post" action="/auth/logout" class="inline">'
            f'<input type="hidden" name="csrf" value="{html.escape(csrf, quote=True)}">'
            f'<button type="submit">Sign in as someone else</button></form></p></main>'
            f'</body></html>')
    return HTMLResponse(body, status_code=403)


def _page(path: str) -> object:
    filename, roles = PAGES[path]

    async def serve(request: Request, state: StateDep) -> Response:
        principal = await run_in_threadpool(principal_from_request, request, state, None)
        if principal is None:
            return RedirectResponse(f"/login?next={quote(path)}", status_code=303)
        if principal.role not in roles:
            return _forbidden(principal.role, path, principal.csrf)
        return FileResponse(STATIC_DIR / filename, media_type="text/html",
                            headers={"Cache-Control": "no-store"})

    serve.__name__ = f"page_{filename.split('.')[0]}"
    return serve


for _path in PAGES:
    router.add_api_route(_path, _page(_path), methods=["GET"])  # type: ignore[arg-type]


@router.get("/login")
async def login_form(next: str = "") -> HTMLResponse:
    return HTMLResponse(login_page("", next), headers={"Cache-Control": "no-store"})
