"""``compoundeye doors --site FILE``: the door listener as its own process."""

from __future__ import annotations

import argparse
import logging
import sys

from compoundeye.mqtt_url import MqttUrlError
from compoundeye.process import load_site_or_report, run_until_signalled
from compoundeye.settings import Settings
from ingest.doors.listener import DoorListener

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    """Run the door listener until SIGINT or SIGTERM; 2 for an invalid site file or
    broker URL."""
    site = load_site_or_report(args.site)
    if site is None:
        return 2
    try:
        listener = DoorListener(site, Settings())
    except MqttUrlError as exc:
        sys.stderr.write(f"doors: CE_MQTT_URL: {exc}\n")
        return 2
    # The broker's address only: the URL may carry a password.
    log.info("door listener %s on %s, topics %s/+/events", listener.client_id,
             listener.broker.address, listener.prefix)
    return run_until_signalled(listener)
