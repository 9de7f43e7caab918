"""The security desks of ``bench scale``: live SSE clients of the real dashboard.

``python -m bench.scale.desks --url BASE --desks 8 --out FILE`` (the operator token in
``CE_BENCH_DESK_TOKEN``, never on a command line others can read) opens
``--desks`` connections to ``GET /api/alerts/stream`` (as an operator, bearer token),
each from the same ``ce:alerts`` position (``--after``), the way the desk page's
``EventSource`` does, and keeps them open until SIGTERM. Every ``alert`` event is noted
with its wall-clock arrival (entry id, action, rule, source, the change's event ids); a
dropped connection reconnects with ``Last-Event-ID``, as a browser would, and is counted.
On the way out the notes go to ``FILE`` (JSON).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger(__name__)

RECONNECT_SECONDS = 0.5
TOKEN_VAR = "CE_BENCH_DESK_TOKEN"


@dataclass
class Desk:
    """One desk's connection and what it received."""

    index: int
    cursor: str
    received: list[list[Any]] = field(default_factory=list)
    """[arrival (epoch s), entry id, action, rule, source id, event ids] per change."""
    reconnects: int = 0
    errors: list[str] = field(default_factory=list)
    connected: bool = False

    def note(self, entry_id: str, data: str) -> None:
        now = time.time()
        change = json.loads(data)
        alert = change.get("alert", {})
        self.received.append([now, entry_id, change.get("action"), alert.get("rule"),
                              alert.get("source", {}).get("id"),
                              change.get("details", {}).get("event_ids", [])])
        self.cursor = entry_id


async def follow(desk: Desk, client: httpx.AsyncClient, token: str,
                 stop: asyncio.Event) -> None:
    """Read the stream until ``stop``; reconnect from the last id after a drop."""
    while not stop.is_set():
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        if desk.cursor:
            headers["Last-Event-ID"] = desk.cursor
        try:
            async with client.stream("GET", "/api/alerts/stream", headers=headers,
                                     timeout=httpx.Timeout(10.0, read=None)) as response:
                response.raise_for_status()
                desk.connected = True
                entry_id, event, data = "", "", ""
                async for line in response.aiter_lines():
                    if line.startswith("id: "):
                        entry_id = line[4:]
                    elif line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        data = line[6:]
                    elif not line:
                        if event == "alert" and data:
                            desk.note(entry_id, data)
                        entry_id, event, data = "", "", ""
        except (httpx.HTTPError, ValueError) as exc:
            if stop.is_set():
                return
            desk.errors.append(f"{type(exc).__name__}: {exc}"[:200])
        if stop.is_set():
            return
        desk.connected = False
        desk.reconnects += 1
        await asyncio.sleep(RECONNECT_SECONDS)


async def run_desks(url: str, token: str, count: int, after: str, out: Path) -> None:
    """Run every desk until SIGTERM or SIGINT, then write what they received."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    desks = [Desk(i, after) for i in range(count)]
    limits = httpx.Limits(max_connections=count + 2, max_keepalive_connections=count + 2)
    async with httpx.AsyncClient(base_url=url, limits=limits) as client:
        tasks = [asyncio.create_task(follow(d, client, token, stop)) for d in desks]
        while not all(d.connected for d in desks) and not stop.is_set():
            await asyncio.sleep(0.05)
        sys.stdout.write(f"READY {count} desks\n")
        sys.stdout.flush()
        await stop.wait()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
    out.write_text(json.dumps([{"desk": d.index, "received": d.received,
                                "reconnects": d.reconnects, "errors": d.errors[:20]}
                               for d in desks]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--desks", type=int, default=8)
    parser.add_argument("--after", default="", help="ce:alerts id to start after")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    token = os.environ.get(TOKEN_VAR, "")
    if not token:
        sys.stderr.write(f"{TOKEN_VAR} is not set\n")
        return 2
    asyncio.run(run_desks(args.url, token, args.desks, args.after, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
