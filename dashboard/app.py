"""The FastAPI application: wiring only (state in the lifespan, routers, middleware)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import redis
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import OperationalError

from compoundeye import __version__
from compoundeye.settings import Settings
from compoundeye.site.models import Site
from dashboard import guards
from dashboard.api import (
    alerts,
    audit,
    auth,
    cameras,
    custody,
    exports,
    health,
    holds,
    keys,
    metrics,
    playback,
    recording_gaps,
    recordings,
    sessions,
    uptime,
)
from dashboard.api import live as live_api
from dashboard.api import site as site_map
from dashboard.pages import STATIC_DIR
from dashboard.pages import router as pages_router
from dashboard.playback import reap_idle
from dashboard.state import AppState, build_state, close_state

log = logging.getLogger(__name__)

MAX_VALIDATION_ERRORS = 20
FLUSH_SECONDS = 1.0
"""How often ended bursts of failed sign-ins are written to the audit."""

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; "
        "style-src 'self' 'unsafe-inline'; script-src 'self'; connect-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def create_app(settings: Settings | None = None, site: Site | None = None) -> FastAPI:
    """The dashboard application for a site (settings from the environment by default)."""
    chosen_settings = settings or Settings()
    app = FastAPI(
        title="compoundeye dashboard",
        version=__version__,
        description="Security desk, ops and police views of the compoundeye pipeline.",
        lifespan=_lifespan(chosen_settings, site or Site()),
        # Swagger UI and ReDoc load their scripts from a CDN: nothing here may need the
        # internet, so only the schema is served (GET /openapi.json).
        docs_url=None,
        redoc_url=None,
    )
    for module in (alerts, cameras, uptime, recordings, recording_gaps, exports, holds, custody,
                   keys, audit, health, metrics, auth, sessions, site_map, live_api, playback):
        app.include_router(module.router)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.middleware("http")(_observe)
    _install_error_handlers(app)
    guards.install(app, chosen_settings)
    return app


def _lifespan(settings: Settings,
              site: Site) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """The app's lifespan: its state, the playback reaper and the sign-in flusher."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = build_state(settings, site)
        app.state.ce = state
        reaper = asyncio.create_task(reap_idle(
            state.playback, lambda details: playback.record_end(state, details),
            state.stopping))
        flusher = asyncio.create_task(_flush_failed_sign_ins(state))
        try:
            yield
        finally:
            state.stopping.set()
            for task in (reaper, flusher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            try:
                await run_in_threadpool(state.signin.flush, everything=True)
            except Exception:
                log.exception("could not write %d failed sign-ins to the audit",
                              state.signin.pending)
            await close_state(state)

    return lifespan


async def _observe(request: Request,
                   call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    """Count and time every request; add the security headers to every answer."""
    started = time.perf_counter()
    response = await call_next(request)
    route = request.scope.get("route")
    path = getattr(route, "path", None) or ("/static" if request.url.path.startswith(
        "/static/") else "(unmatched)")
    state: AppState | None = getattr(request.app.state, "ce", None)
    if state is not None:
        state.metrics.observe_request(request.method, path, response.status_code,
                                      time.perf_counter() - started)
    for key, value in SECURITY_HEADERS.items():
        if key == "Content-Security-Policy" and state is not None:
            # pages open the live engine's WebSocket, a separate origin by default
            value = value.replace("connect-src 'self'", " ".join(filter(None, [
                "connect-src 'self'", live_api.live_origin(state.settings, request)])))
        response.headers.setdefault(key, value)
    guards.https_headers(request, response)
    return response


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's default echoes the input: a 30 MB body came back in a 31 MB 422.
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", ""))[:300],
                   "type": str(e.get("type", ""))} for e in exc.errors()[:MAX_VALIDATION_ERRORS]]
        return JSONResponse({"detail": errors}, 422)

    @app.exception_handler(redis.RedisError)
    async def redis_down(_request: Request, exc: redis.RedisError) -> JSONResponse:
        log.warning("Redis error answering a request: %s", exc)
        return JSONResponse({"detail": f"Redis unavailable: {type(exc).__name__}"}, 503)

    @app.exception_handler(OperationalError)
    async def store_down(_request: Request, exc: OperationalError) -> JSONResponse:
        log.warning("store error answering a request: %s", exc)
        return JSONResponse({"detail": "alert store unavailable"}, 503)


async def _flush_failed_sign_ins(state: AppState) -> None:
    """Write ended bursts of failed sign-ins to the audit until the app stops."""
    while not state.stopping.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.stopping.wait(), FLUSH_SECONDS)
        try:
            await run_in_threadpool(state.signin.flush)
        except Exception:
            log.exception("failed sign-ins not written to the audit yet; retrying")
