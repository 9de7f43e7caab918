"""The cameras' side of ``bench scale``: many cameras' worth of the edge's own writers.

``python -m bench.scale.fleet --site FILE --ledger OUT`` runs, in one process, the site's
cameras split into ``--shards`` shards the way ``compoundeye edge --shard I/N`` splits
them (:func:`ingest.sharding.select_shard`). Each shard is what an edge worker does
around its camera pipelines, with the pipelines replaced by synthetic counters:

- a :class:`compoundeye.bus.BufferedPublisher` with its delivery thread (every event),
- a :class:`ingest.status.StatusWriter` writing every camera's
  :class:`compoundeye.camera_status.CameraStatusReport` and the worker heartbeat every
  ``status_interval`` seconds, from :class:`ingest.status.CameraHealth` fed with
  :class:`ingest.status.Observation` snapshots (so ``camera.offline`` and
  ``camera.online`` come from the worker's own state machine, as in
  ``EdgeWorker.update_status``),
- a :class:`ingest.metrics.MetricsCollector` over a :class:`compoundeye.tsdb.MetricsWriter`
  every ``edge.metrics_interval_seconds`` (influxdb-client, line protocol).

The synthetic part is only what a decoder would have counted: frames received at 15 fps,
sampled at the detect rate (or none in health mode), frames stopping for an offline
episode, a tamper reason held for a tamper episode, and motion starts and ends made with
the pipeline's own event ids (``make_event`` with the zone or reason as id part). A fifth
of the cameras (``--active-fraction``) are in a motion episode at any moment.

Every event handed to a publisher is written to the ledger (JSON lines: id, kind,
camera, zone or reason, event time, wall time of the hand-over) when the process stops.
"""

from __future__ import annotations

import argparse
import heapq
import json
import logging
import random
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compoundeye import bus
from compoundeye.camera_status import CameraState, CameraStatusReport, WatchMode
from compoundeye.events import EventKind, make_event
from compoundeye.process import run_until_signalled
from compoundeye.redis_client import redis_from_settings
from compoundeye.replication import ReplicaWait
from compoundeye.settings import Settings
from compoundeye.site import load_site
from compoundeye.site.models import Camera, Site
from compoundeye.timeutil import from_epoch, to_rfc3339, utcnow
from compoundeye.tsdb import MetricsWriter
from ingest.metrics import CameraCounters, MetricsCollector
from ingest.modes import ModeSchedule, expected_sample_fps
from ingest.packet_reader import Mode
from ingest.sharding import select_shard
from ingest.status import CameraHealth, Observation, StatusWriter

log = logging.getLogger(__name__)

SUB_FPS = 15.0
"""The sub stream's frame rate: what a camera's reader receives."""
STEP_SECONDS = 0.05
"""How often a shard's loop looks at its episode timeline."""
TAMPER_REASONS = ("covered", "blackout", "defocus", "moved", "frozen")


@dataclass(frozen=True)
class LoadShape:
    """How busy the cameras are (rates are for the whole site)."""

    active_fraction: float = 0.2
    """Share of cameras in a motion episode at any moment (the evening peak)."""
    motion_seconds: float = 20.0
    """Mean length of a motion episode."""
    offline_per_s: float = 0.1
    tamper_per_s: float = 0.05
    episode_seconds: tuple[float, float] = (25.0, 60.0)
    """Length of an offline or tamper episode (uniform between the two)."""


@dataclass
class _Cam:
    camera: Camera
    health: CameraHealth
    mode: Mode
    mode_since: float
    frames_in: float = 0.0
    sampled: float = 0.0
    last_frame: float | None = None
    dark_until: float = 0.0
    """Frames stop until then (an offline episode)."""
    tamper: str | None = None
    motion: list[str] = field(default_factory=list)
    """Zones in motion now."""
    motion_sum: float = 0.0
    motion_frames: int = 0


class FleetShard:
    """One shard's cameras on the edge's writers, driven by synthetic counters."""

    def __init__(self, site: Site, settings: Settings, shard: tuple[int, int],
                 shape: LoadShape, seed: int, stop: threading.Event) -> None:
        self.site = site
        self.shape = shape
        self.worker_id = f"fleet-{shard[0]}of{shard[1]}"
        self.shard = shard
        self.cameras = select_shard(site.cameras, *shard)
        self.rng = random.Random(seed)
        self._stop = stop
        self.client = redis_from_settings(settings)
        self.publisher = bus.BufferedPublisher(self.client,
                                               wait=ReplicaWait.from_settings(settings))
        self.status = StatusWriter(self.client, site.edge.heartbeat_ttl_seconds)
        self.writer = MetricsWriter.from_settings(settings, buffer_size=50_000)
        self.collector = MetricsCollector(self.writer, self.worker_id,
                                          {c.id: c.location.building for c in self.cameras})
        self.ledger: list[dict[str, Any]] = []
        self._timeline: list[tuple[float, int, str, str]] = []
        self._seq = 0
        self._idle_mean = shape.motion_seconds
        now = time.time()
        modes = ModeSchedule(site, self.cameras).initial()
        self.cams = {c.id: _Cam(c, CameraHealth(c.detect_fps, site.edge.offline_after_seconds,
                                                now), modes.get(c.id, "full"), now - 60)
                     for c in self.cameras}

    # -- the timeline of episodes ----------------------------------------------------------

    def _at(self, when: float, action: str, camera_id: str) -> None:
        self._seq += 1
        heapq.heappush(self._timeline, (when, self._seq, action, camera_id))

    def _plan(self, start: float) -> None:
        """Motion episodes for each camera (a renewal process at the active share);
        offline and tamper episodes arrive as Poisson processes over the shard."""
        share = len(self.cameras) / max(1, len(self.site.cameras))
        mean = self.shape.motion_seconds
        idle = max(0.1, mean * (1 - self.shape.active_fraction)
                   / max(1e-6, self.shape.active_fraction))
        for camera_id in self.cams:
            if self.rng.random() < self.shape.active_fraction:
                self._at(start + self.rng.uniform(0, 2), "motion_start", camera_id)
            else:
                self._at(start + self.rng.expovariate(1 / idle), "motion_start", camera_id)
        for rate, action in ((self.shape.offline_per_s, "offline"),
                             (self.shape.tamper_per_s, "tamper")):
            if rate * share > 0:
                self._at(start + self.rng.expovariate(rate * share), action, "")
        self._idle_mean = idle

    def _do(self, now: float, action: str, camera_id: str) -> None:
        if action in ("offline", "tamper"):
            rate = (self.shape.offline_per_s if action == "offline"
                    else self.shape.tamper_per_s) * len(self.cameras) / len(self.site.cameras)
            self._at(now + self.rng.expovariate(rate), action, "")
            calm = [c for c in self.cams.values()
                    if c.dark_until <= now and c.tamper is None and c.last_frame is not None]
            if not calm:
                return
            cam = self.rng.choice(calm)
            length = self.rng.uniform(*self.shape.episode_seconds)
            if action == "offline":
                cam.dark_until = now + length
            else:
                self._tamper(cam, now, length)
            return
        cam = self.cams[camera_id]
        if action == "motion_start":
            if cam.dark_until > now:  # no picture, no motion: try again later
                self._at(now + self.rng.expovariate(1 / self._idle_mean), action, camera_id)
                return
            zones = ["*"] + ([cam.camera.zones[0].name] if cam.camera.zones
                             and self.rng.random() < 0.5 else [])
            cam.motion = zones
            for zone in zones:
                self._publish(EventKind.MOTION_START, cam.camera.id, now,
                              {"zone": zone, "peak_fraction": round(self.rng.uniform(0.02, 0.3),
                                                                    4)}, zone)
            self._at(now + self.rng.expovariate(1 / self.shape.motion_seconds), "motion_end",
                     camera_id)
        elif action == "motion_end":
            for zone in cam.motion:
                self._publish(EventKind.MOTION_END, cam.camera.id, now,
                              {"zone": zone, "peak_fraction": 0.1}, zone)
            cam.motion = []
            self._at(now + self.rng.expovariate(1 / self._idle_mean), "motion_start", camera_id)
        elif action == "tamper_clear" and cam.tamper is not None:
            reason, cam.tamper = cam.tamper, None
            self._publish(EventKind.CAMERA_TAMPER_CLEARED, cam.camera.id, now,
                          {"reason": reason, "measure": 0.5}, reason)

    def _tamper(self, cam: _Cam, now: float, length: float) -> None:
        reason = self.rng.choice(TAMPER_REASONS)
        cam.tamper = reason
        self._publish(EventKind.CAMERA_TAMPER, cam.camera.id, now,
                      {"reason": reason, "measure": 0.97}, reason)
        self._at(now + length, "tamper_clear", cam.camera.id)

    def _publish(self, kind: EventKind, camera_id: str, now: float, attrs: dict[str, Any],
                 part: str | None) -> None:
        event = make_event(kind, "camera", camera_id, from_epoch(now), attrs,
                           id_parts=(part,) if part is not None else None)
        self.ledger.append({"id": event.id, "kind": kind.value, "source": camera_id,
                            "detail": part or "", "ts": to_rfc3339(event.ts),
                            "sent": time.time()})
        self.publisher.publish(event)

    # -- the worker's periodic writes ------------------------------------------------------

    def _advance(self, now: float, dt: float) -> None:
        """What the readers would have counted over ``dt``."""
        for cam in self.cams.values():
            if cam.dark_until > now:
                continue
            cam.frames_in += SUB_FPS * dt
            cam.sampled += expected_sample_fps(cam.camera.detect_fps, cam.mode,
                                               cam.mode_since, now) * dt
            cam.last_frame = now
            if cam.motion:
                cam.motion_sum += 0.1 * dt
                cam.motion_frames += int(cam.camera.detect_fps * dt)

    def update_status(self, now: float) -> None:
        """As ``EdgeWorker.update_status``: observe, announce up/down, write the hashes."""
        statuses: dict[str, CameraStatusReport] = {}
        for camera_id, cam in self.cams.items():
            obs = Observation(now, int(cam.frames_in), int(cam.sampled), 0, 0, cam.last_frame,
                              (cam.tamper,) if cam.tamper else (), "")
            transition = cam.health.observe(obs)
            if transition is not None:
                self._publish(transition.kind, camera_id, transition.t,
                              {"reason": transition.reason, "worker": self.worker_id}, None)
            health = cam.health
            if health.status is None:
                continue
            statuses[camera_id] = CameraStatusReport(
                status=health.status, since=to_rfc3339(from_epoch(health.since)),
                last_frame=to_rfc3339(from_epoch(cam.last_frame)) if cam.last_frame else None,
                fps=health.fps_in, fps_processed=health.fps_sampled, worker=self.worker_id,
                reason=health.reason or None, reconnects=0, dropped=0,
                updated=to_rfc3339(utcnow()), recording=None, recorder_error=None,
                mode=WatchMode(cam.mode))
        online = sum(1 for c in self.cams.values()
                     if c.health.status not in (None, CameraState.OFFLINE))
        self.status.write(statuses, self.worker_id, {
            "updated": to_rfc3339(utcnow()), "shard": f"{self.shard[0]}/{self.shard[1]}",
            "cameras": str(len(self.cams)), "online": str(online),
            "events_pending": str(self.publisher.pending),
            "events_dropped": str(self.publisher.stats.dropped)})

    def write_metrics(self, now: float) -> None:
        counters = {
            camera_id: CameraCounters(
                t=now, up=cam.health.status not in (None, CameraState.OFFLINE),
                frames_in=int(cam.frames_in), processed=int(cam.sampled), dropped=0,
                decode_cpu_seconds=cam.frames_in * 0.001, reconnects=0,
                motion_sum=cam.motion_sum, motion_frames=cam.motion_frames, recorded_bytes=0)
            for camera_id, cam in self.cams.items()}
        self.collector.record(counters, utcnow(), {
            "events_pending": self.publisher.pending,
            "events_dropped": self.publisher.stats.dropped})

    def run(self) -> None:
        """Until the stop event: episodes as they fall due, status and metrics on time."""
        delivery = threading.Thread(target=self.publisher.run, name=f"events-{self.worker_id}",
                                    daemon=True)
        delivery.start()
        start = time.time()
        status_every = min(2.0, self.site.edge.heartbeat_ttl_seconds / 3)
        metrics_every = self.site.edge.metrics_interval_seconds
        # shards of one process start apart, as separate workers would
        offset = self.shard[0] / max(1, self.shard[1])
        next_status, next_metrics = start + offset * status_every, start + offset * 2
        self._plan(start)
        last = start
        try:
            while not self._stop.wait(STEP_SECONDS):
                now = time.time()
                while self._timeline and self._timeline[0][0] <= now:
                    when, _seq, action, camera_id = heapq.heappop(self._timeline)
                    self._do(when, action, camera_id)
                if now >= next_status:
                    self._advance(now, now - last)
                    last = now
                    self.update_status(now)
                    next_status += status_every
                if now >= next_metrics:
                    self.write_metrics(now)
                    next_metrics += metrics_every
        finally:
            self.publisher.stop()
            delivery.join(timeout=10)
            self.writer.close(timeout=5)
            self.status.remove_worker(self.worker_id)
            self.client.close()


class Fleet:
    """Every shard in its own thread; ``stop()`` ends them and writes the ledger."""

    def __init__(self, site: Site, settings: Settings, shards: int, shape: LoadShape,
                 seed: int, ledger: Path) -> None:
        self._stop = threading.Event()
        self.ledger = ledger
        self.shards = [FleetShard(site, settings, (i, shards), shape, seed * 1000 + i,
                                  self._stop) for i in range(shards)]

    def run(self) -> None:
        threads = [threading.Thread(target=s.run, name=s.worker_id) for s in self.shards]
        for thread in threads:
            thread.start()
        sys.stdout.write(f"READY {sum(len(s.cams) for s in self.shards)} cameras\n")
        sys.stdout.flush()
        try:
            self._stop.wait()
        finally:
            self._stop.set()
            for thread in threads:
                thread.join(timeout=30)
            stats = [s.publisher.stats.as_dict for s in self.shards]
            with self.ledger.open("w", encoding="utf-8") as out:
                for shard in self.shards:
                    for row in shard.ledger:
                        out.write(json.dumps(row, separators=(",", ":")) + "\n")
            summary = {k: sum(s[k] for s in stats) for k in stats[0]} if stats else {}
            summary["metrics_lost"] = sum(s.writer.stats.lost for s in self.shards)
            summary["status_failures"] = sum(s.status.failures for s in self.shards)
            self.ledger.with_suffix(".stats.json").write_text(json.dumps(summary))

    def stop(self) -> None:
        self._stop.set()


def main(argv: list[str] | None = None) -> int:
    """Run the fleet until SIGTERM; the ledger is written on the way out."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, required=True)
    parser.add_argument("--ledger", type=Path, required=True)
    parser.add_argument("--shards", type=int, default=12)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--active-fraction", type=float, default=LoadShape.active_fraction)
    parser.add_argument("--offline-per-s", type=float, default=LoadShape.offline_per_s)
    parser.add_argument("--tamper-per-s", type=float, default=LoadShape.tamper_per_s)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    shape = LoadShape(active_fraction=args.active_fraction, offline_per_s=args.offline_per_s,
                      tamper_per_s=args.tamper_per_s)
    fleet = Fleet(load_site(args.site), Settings(), args.shards, shape, args.seed, args.ledger)
    return run_until_signalled(fleet)


if __name__ == "__main__":
    sys.exit(main())
