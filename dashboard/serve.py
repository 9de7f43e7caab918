"""``compoundeye dashboard --site FILE [--host --port]``: serve the dashboard with uvicorn."""

from __future__ import annotations

import argparse
import logging
from types import FrameType

import uvicorn
from fastapi import FastAPI

from compoundeye.process import load_site_or_report
from compoundeye.settings import Settings
from dashboard.app import create_app
from dashboard.state import AppState

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    """Load the site, build the app and serve until SIGINT/SIGTERM (uvicorn's handlers)."""
    site = load_site_or_report(args.site)
    if site is None:
        return 2
    settings = Settings()
    app = create_app(settings, site)
    tls = settings.tls_cert_file is not None and settings.tls_key_file is not None
    log.info("dashboard for %s (%d cameras, %d doors) on %s://%s:%d/ (hosts %s; proxies "
             "trusted: %s)", site.name, len(site.cameras), len(site.doors),
             "https" if tls else "http", args.host, args.port,
             ", ".join(settings.allowed_host_list), ", ".join(settings.trusted_proxy_list)
             or "none")
    if not settings.allowed_hosts and args.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("CE_ALLOWED_HOSTS is not set: only loopback Host names are answered; "
                    "set it to the names clients use")
    # uvicorn's own proxy handling is off: its default trusts X-Forwarded-* from loopback.
    # The app applies CE_TRUSTED_PROXIES itself, after keeping the socket peer
    # (dashboard/guards.py).
    config = uvicorn.Config(app, host=args.host, port=args.port, log_config=None,
                            timeout_graceful_shutdown=5, access_log=False,
                            proxy_headers=False, forwarded_allow_ips="",
                            ssl_certfile=settings.tls_cert_file if tls else None,
                            ssl_keyfile=settings.tls_key_file if tls else None,
                            server_header=False)
    _Server(config, app).run()
    return 0


class _Server(uvicorn.Server):
    """uvicorn's server, also telling open event streams to end when asked to stop."""

    def __init__(self, config: uvicorn.Config, app: FastAPI) -> None:
        super().__init__(config)
        self._app = app

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        state: AppState | None = getattr(self._app.state, "ce", None)
        if state is not None:
            state.stopping.set()  # only a flag: the streams check it between reads
        super().handle_exit(sig, frame)
