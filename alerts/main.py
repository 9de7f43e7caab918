"""``compoundeye alerts --site FILE [--consumer NAME]``: the alerting service process."""

from __future__ import annotations

import argparse

from compoundeye.process import load_site_or_report, run_until_signalled


def run(args: argparse.Namespace) -> int:
    """Run the alerting service until SIGINT or SIGTERM; 2 for an invalid site file."""
    from alerts.service import AlertService
    from compoundeye.settings import Settings

    site = load_site_or_report(args.site)
    if site is None:
        return 2
    return run_until_signalled(AlertService(site, Settings(), consumer=args.consumer))
