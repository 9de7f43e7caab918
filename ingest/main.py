"""``compoundeye edge``: load the site, build the worker, run it until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import sys
from types import FrameType

from compoundeye.settings import Settings
from compoundeye.site.loader import SiteConfigError, load_site
from ingest.worker import EdgeWorker, WorkerOptions

log = logging.getLogger(__name__)


def default_worker_id(shard: tuple[int, int]) -> str:
    """``<hostname>-<I>of<N>``: stable for a StatefulSet pod and its shard."""
    return f"{socket.gethostname()}-{shard[0]}of{shard[1]}"


def run(args: argparse.Namespace) -> int:
    """Handler of ``compoundeye edge``; returns the exit code."""
    try:
        site = load_site(args.site)
    except SiteConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 2
    shard: tuple[int, int] = (int(args.shard[0]), int(args.shard[1]))
    doors = site.edge.door_listener if args.doors is None else bool(args.doors)
    options = WorkerOptions(
        shard=shard,
        worker_id=args.worker_id or default_worker_id(shard),
        record=not args.no_record,
        doors=doors,
    )
    worker = EdgeWorker(site, Settings(), options)

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        worker.stop()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        worker.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
