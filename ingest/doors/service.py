"""``compoundeye doors --site FILE``: the door listener as its own process."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from types import FrameType

from compoundeye.settings import Settings
from compoundeye.site.loader import load_site
from ingest.doors.listener import DoorListener

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    """Run the door listener until SIGINT or SIGTERM."""
    from compoundeye.site.errors import SiteConfigError

    try:
        site = load_site(args.site)
    except SiteConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    listener = DoorListener(site, Settings())

    def _ask_stop(_signum: int, _frame: FrameType | None) -> None:
        listener.stop()

    signal.signal(signal.SIGINT, _ask_stop)
    signal.signal(signal.SIGTERM, _ask_stop)
    log.info("door listener %s on %s, topics %s/+/events", listener.client_id,
             listener.settings.mqtt_url, listener.prefix)
    listener.run()
    return 0
