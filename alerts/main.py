"""``compoundeye alerts --site FILE [--consumer NAME]``: the alerting service process."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    """Run the alerting service until SIGINT or SIGTERM."""
    from alerts.service import AlertService
    from compoundeye.settings import Settings
    from compoundeye.site.errors import SiteConfigError
    from compoundeye.site.loader import load_site

    try:
        site = load_site(args.site)
    except SiteConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    service = AlertService(site, Settings(), consumer=getattr(args, "consumer", None))

    def _ask_stop(_signum: int, _frame: FrameType | None) -> None:
        service.stop()

    signal.signal(signal.SIGINT, _ask_stop)
    signal.signal(signal.SIGTERM, _ask_stop)
    service.run()
    return 0
