"""``compoundeye doors --site FILE``: the door listener as its own process."""

from __future__ import annotations

import argparse
import logging

from compoundeye.process import load_site_or_report, run_until_signalled
from compoundeye.settings import Settings
from ingest.doors.listener import DoorListener

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    """Run the door listener until SIGINT or SIGTERM; 2 for an invalid site file."""
    site = load_site_or_report(args.site)
    if site is None:
        return 2
    listener = DoorListener(site, Settings())
    log.info("door listener %s on %s, topics %s/+/events", listener.client_id,
             listener.settings.mqtt_url, listener.prefix)
    return run_until_signalled(listener)
