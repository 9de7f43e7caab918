"""The doors' side of ``bench scale``: every door controller of the site over MQTT.

``python -m bench.scale.doorgen --site FILE --ledger OUT`` (the broker URL, with its
password, in ``CE_BENCH_MQTT_URL``) publishes, as
the site's controllers would (native payloads with ``seq`` and ``ts``, QoS 1, on
``<prefix>/<door>/events``), into the real broker, where the real door listener
(``compoundeye doors``) turns them into events through the project's publisher:

- residents passing at a rush-hour rate (``--passages-per-s``; 36,000 residents, a
  peak hour of about 14,000 passages is 4 a second): ``granted``, then ``opened`` 0.5 to
  2 s later and ``closed`` 3 to 8 s after that; 3 % are ``denied`` instead. Each card
  belongs to one building (gate cards to one gate), so no card shows up at two doors far
  apart; doors outside their schedule get no card traffic;
- a door ``forced`` every ``--forced-every`` seconds (closed 3 to 8 s later), and one
  ``held`` open past its limit every ``--held-every`` seconds (granted, opened, the
  controller's ``held`` two seconds past ``held_open_seconds``, closed three later);
- every controller's heartbeat every ``--heartbeat`` seconds.

One door has one thing going on at a time (a passage waits for the door to close), so the
door rules see what a real door does. Every message but the heartbeats is written to the
ledger (door, kind, the ``ts`` sent, wall time of the publish) when the process stops.
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import os
import random
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from compoundeye.mqtt_url import parse_mqtt_url
from compoundeye.process import run_until_signalled
from compoundeye.site import load_site
from compoundeye.site.models import Door, Site
from compoundeye.timeutil import from_epoch, to_rfc3339

log = logging.getLogger(__name__)

RESIDENTS = 36_000
MQTT_URL_VAR = "CE_BENCH_MQTT_URL"
DENIED_SHARE = 0.03
GATE_WEIGHT = 5.0
"""A gate sees this many times the traffic of a building entrance."""
MAX_HELD_SECONDS = 60.0
"""Held-open episodes are staged at doors whose limit is at most this."""


@dataclass(frozen=True)
class DoorShape:
    """How busy the doors are."""

    passages_per_s: float = 4.0
    forced_every: float = 3.0
    held_every: float = 12.0
    heartbeat: float = 30.0


class DoorTraffic:
    """Schedules and publishes every controller's messages until ``stop()``."""

    def __init__(self, site: Site, mqtt_url: str, shape: DoorShape, seed: int,
                 ledger: Path) -> None:
        self.site = site
        self.shape = shape
        self.rng = random.Random(seed)
        self.ledger_path = ledger
        self.ledger: list[dict[str, Any]] = []
        self.heartbeats = 0
        self._stop = threading.Event()
        self._heap: list[tuple[float, int, str, str, dict[str, Any]]] = []
        self._n = 0
        self._seq: dict[str, int] = {}
        self._busy: dict[str, float] = {}
        self.doors = list(site.doors)
        self._weights = [GATE_WEIGHT if d.location.building.startswith("GATE") else 1.0
                         for d in self.doors]
        buildings = sorted({d.location.building for d in self.doors})
        per = max(1, RESIDENTS // max(1, len(buildings)))
        self._cards = {b: per for b in buildings}
        target = parse_mqtt_url(mqtt_url)
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"bench-doors-{seed}", protocol=mqtt.MQTTv311)
        target.configure(self.client)
        self._host, self._port = target.host, target.port
        self.prefix = site.mqtt.topic_prefix

    # -- scheduling ------------------------------------------------------------------------

    def _at(self, when: float, what: str, door_id: str, payload: dict[str, Any]) -> None:
        self._n += 1
        heapq.heappush(self._heap, (when, self._n, what, door_id, payload))

    def _free(self, door: Door, now: float) -> bool:
        return self._busy.get(door.id, 0.0) <= now

    def _open_now(self, door: Door, now: float) -> bool:
        return door.schedule is None or self.site.schedule_active(door.schedule,
                                                                  from_epoch(now))

    def _card(self, door: Door) -> str:
        building = door.location.building
        return f"{building}-{self.rng.randrange(self._cards[building]):05d}"

    def _passage(self, now: float) -> None:
        door = self.rng.choices(self.doors, self._weights)[0]
        if not self._open_now(door, now):
            return
        if not self._free(door, now):
            self._at(self._busy[door.id] + 0.2, "passage_at", door.id, {})
            return
        self._walk(door, now)

    def _walk(self, door: Door, now: float) -> None:
        card = self._card(door)
        if self.rng.random() < DENIED_SHARE:
            reason = self.rng.choice(["unknown card", "expired"])
            self._at(now, "msg", door.id, {"event": "denied", "credential": card,
                                           "reason": reason})
            self._busy[door.id] = now + 1.0
            return
        opened = now + self.rng.uniform(0.5, 2.0)
        closed = opened + self.rng.uniform(3.0, 8.0)
        self._at(now, "msg", door.id, {"event": "granted", "credential": card})
        self._at(opened, "msg", door.id, {"event": "opened"})
        self._at(closed, "msg", door.id, {"event": "closed"})
        self._busy[door.id] = closed + 0.5

    def _idle_door(self, now: float, scheduled: bool,
                   max_held: float = float("inf")) -> Door | None:
        for _ in range(50):
            door = self.rng.choice(self.doors)
            if (self._free(door, now) and door.held_open_seconds <= max_held
                    and (not scheduled or self._open_now(door, now))):
                return door
        return None

    def _forced(self, now: float) -> None:
        door = self._idle_door(now, scheduled=False)
        if door is None:
            return
        closed = now + self.rng.uniform(3.0, 8.0)
        self._at(now, "msg", door.id, {"event": "forced"})
        self._at(closed, "msg", door.id, {"event": "closed"})
        self._busy[door.id] = closed + 0.5

    def _held(self, now: float) -> None:
        door = self._idle_door(now, scheduled=True, max_held=MAX_HELD_SECONDS)
        if door is None:
            return
        opened = now + 1.0
        held = opened + door.held_open_seconds + 2.0
        closed = held + 3.0
        self._at(now, "msg", door.id, {"event": "granted", "credential": self._card(door)})
        self._at(opened, "msg", door.id, {"event": "opened"})
        self._at(held, "msg", door.id, {"event": "held"})
        self._at(closed, "msg", door.id, {"event": "closed"})
        self._busy[door.id] = closed + 0.5

    def _plan(self, start: float) -> None:
        shape = self.shape
        for door in self.doors:  # a first heartbeat at once: every controller is online
            self._at(start + self.rng.uniform(0, 1), "heartbeat", door.id, {})
        if shape.passages_per_s > 0:
            self._at(start + 2, "passage", "", {})
        if shape.forced_every > 0:
            self._at(start + 3, "forced", "", {})
        if shape.held_every > 0:
            self._at(start + 4, "held", "", {})

    # -- running ---------------------------------------------------------------------------

    def _send(self, door_id: str, payload: dict[str, Any], now: float) -> None:
        seq = self._seq[door_id] = self._seq.get(door_id, 0) + 1
        body = {**payload, "seq": seq}
        if payload.get("event") != "heartbeat":
            body["ts"] = to_rfc3339(from_epoch(now))
        topic = f"{self.prefix}/{door_id}/events"
        data = json.dumps(body, separators=(",", ":"))
        sent = time.time()
        self.client.publish(topic, data, qos=1)
        if payload.get("event") == "heartbeat":
            self.heartbeats += 1
        else:
            self.ledger.append({"door": door_id, "kind": f"door.{payload['event']}",
                                "ts": body["ts"], "sent": sent})

    def _due(self, now: float, what: str, door_id: str, payload: dict[str, Any]) -> None:
        shape = self.shape
        if what == "msg":
            self._send(door_id, payload, now)
        elif what == "heartbeat":
            self._send(door_id, {"event": "heartbeat"}, now)
            self._at(now + shape.heartbeat, "heartbeat", door_id, {})
        elif what == "passage":
            self._passage(now)
            self._at(now + self.rng.expovariate(shape.passages_per_s), "passage", "", {})
        elif what == "passage_at":
            door = self.site.door(door_id)
            if door is not None and self._free(door, now):
                self._walk(door, now)
            elif door is not None:
                self._at(self._busy[door_id] + 0.2, "passage_at", door_id, {})
        elif what == "forced":
            self._forced(now)
            self._at(now + shape.forced_every, "forced", "", {})
        elif what == "held":
            self._held(now)
            self._at(now + shape.held_every, "held", "", {})

    def run(self) -> None:
        self.client.connect(self._host, self._port, keepalive=30)
        self.client.loop_start()
        try:
            start = time.time()
            self._plan(start)
            sys.stdout.write(f"READY {len(self.doors)} doors\n")
            sys.stdout.flush()
            while not self._stop.is_set():
                now = time.time()
                while self._heap and self._heap[0][0] <= now:
                    when, _n, what, door_id, payload = heapq.heappop(self._heap)
                    self._due(max(when, now - 0.5), what, door_id, payload)
                wait = self._heap[0][0] - time.time() if self._heap else 0.5
                self._stop.wait(min(0.5, max(0.0, wait)))
        finally:
            self.client.loop_stop()
            self.client.disconnect()
            with self.ledger_path.open("w", encoding="utf-8") as out:
                for row in self.ledger:
                    out.write(json.dumps(row, separators=(",", ":")) + "\n")
            self.ledger_path.with_suffix(".stats.json").write_text(json.dumps(
                {"messages": len(self.ledger), "heartbeats": self.heartbeats}))

    def stop(self) -> None:
        self._stop.set()


def main(argv: list[str] | None = None) -> int:
    """Publish the doors' traffic until SIGTERM; the ledger is written on the way out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, required=True)
    parser.add_argument("--ledger", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--passages-per-s", type=float, default=DoorShape.passages_per_s)
    parser.add_argument("--forced-every", type=float, default=DoorShape.forced_every)
    parser.add_argument("--held-every", type=float, default=DoorShape.held_every)
    parser.add_argument("--heartbeat", type=float, default=DoorShape.heartbeat)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    shape = DoorShape(args.passages_per_s, args.forced_every, args.held_every, args.heartbeat)
    url = os.environ.get(MQTT_URL_VAR, "")
    if not url:
        sys.stderr.write(f"{MQTT_URL_VAR} is not set\n")
        return 2
    traffic = DoorTraffic(load_site(args.site), url, shape, args.seed, args.ledger)
    return run_until_signalled(traffic)


if __name__ == "__main__":
    sys.exit(main())
