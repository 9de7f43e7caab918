"""``compoundeye dashboard --site FILE [--host --port]``: serve the dashboard with uvicorn."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn

from compoundeye.settings import Settings
from compoundeye.site import SiteConfigError, load_site
from dashboard.app import create_app

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    """Load the site, build the app and serve until SIGINT/SIGTERM (uvicorn's handlers)."""
    try:
        site = load_site(args.site)
    except SiteConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    settings = Settings()
    app = create_app(settings, site)
    log.info("dashboard for %s (%d cameras, %d doors) on http://%s:%d/", site.name,
             len(site.cameras), len(site.doors), args.host, args.port)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_config=None,
                            timeout_graceful_shutdown=5, access_log=False)
    uvicorn.Server(config).run()
    return 0
