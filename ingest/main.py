"""``compoundeye edge``: load the site, build the worker, run it until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import logging
import socket

from compoundeye.process import load_site_or_report, run_until_signalled
from compoundeye.settings import Settings
from ingest.worker import EdgeWorker, WorkerOptions

log = logging.getLogger(__name__)


def default_worker_id(shard: tuple[int, int]) -> str:
    """``<hostname>-<I>of<N>``: stable for a StatefulSet pod and its shard."""
    return f"{socket.gethostname()}-{shard[0]}of{shard[1]}"


def run(args: argparse.Namespace) -> int:
    """Handler of ``compoundeye edge``; returns the exit code."""
    site = load_site_or_report(args.site, credentials=True)
    if site is None:
        return 2
    shard: tuple[int, int] = (int(args.shard[0]), int(args.shard[1]))
    doors = site.edge.door_listener if args.doors is None else bool(args.doors)
    options = WorkerOptions(
        shard=shard,
        worker_id=args.worker_id or default_worker_id(shard),
        record=not args.no_record,
        doors=doors,
    )
    return run_until_signalled(EdgeWorker(site, Settings(), options))
