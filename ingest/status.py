"""Camera health from reader counters, and the TTL'd status hashes in Redis.

:class:`CameraHealth` is pure logic over counter snapshots (clock passed in): online,
degraded (sampled fps far below the detect rate, or decode errors), tampered (a tamper
raised), offline (no frame for ``offline_after`` seconds). It says when ``camera.offline``
or ``camera.online`` must be published: once per change between up and down. The states
and the hash's fields are :mod:`compoundeye.camera_status`'s.

:class:`StatusWriter` writes every camera's hash and the worker's heartbeat in one
pipeline with a TTL, so the cameras of a worker that died go stale on their own. Redis
errors are counted and logged once per outage; the worker carries on.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import redis

from compoundeye import names
from compoundeye.bus import hash_mapping
from compoundeye.camera_status import CameraState, CameraStatus, read_states
from compoundeye.events import EventKind

log = logging.getLogger(__name__)

DEGRADED_FPS_FRACTION = 0.5
"""Sampled fps below this fraction of the detect fps is 'far below expected'."""
FPS_WINDOW_SECONDS = 5.0


@dataclass(frozen=True)
class Observation:
    """A snapshot of one camera's counters at time ``t`` (epoch seconds)."""

    t: float
    frames_in: int
    frames_sampled: int
    decode_errors: int
    dropped: int
    last_frame: float | None
    tampers: tuple[str, ...] = ()
    last_error: str = ""


@dataclass(frozen=True)
class Transition:
    """An up/down change to announce: ``camera.offline`` or ``camera.online``."""

    kind: EventKind
    t: float
    reason: str


class CameraHealth:
    """Status state machine of one camera, fed with periodic observations."""

    def __init__(self, detect_fps: float, offline_after: float, started: float,
                 previous: CameraState | None = None) -> None:
        self.detect_fps = detect_fps
        self.offline_after = offline_after
        self.started = started
        self.status: CameraState | None = None
        self.since: float = started
        self.reason = ""
        self.fps_in = 0.0
        self.fps_sampled = 0.0
        self._up_since: float | None = None
        self._window: deque[Observation] = deque()
        # What the rest of the system was last told: "offline" left in Redis by a previous
        # run means the next frame is news (camera.online).
        self._announced_up: bool | None = False if previous == CameraState.OFFLINE else None

    def observe(self, obs: Observation) -> Transition | None:
        """Update from a counter snapshot; return the transition to announce, if any."""
        self._window.append(obs)
        while len(self._window) > 2 and obs.t - self._window[1].t >= FPS_WINDOW_SECONDS:
            self._window.popleft()
        first = self._window[0]
        span = obs.t - first.t
        if span > 0:
            self.fps_in = (obs.frames_in - first.frames_in) / span
            self.fps_sampled = (obs.frames_sampled - first.frames_sampled) / span
        status, reason = self._classify(obs, first, span)
        if status is None:
            return None
        if status != self.status:
            if status == CameraState.OFFLINE:
                self._up_since = None
            elif self._up_since is None:
                self._up_since = obs.t
            self.status, self.since = status, obs.t
        self.reason = reason
        up = status != CameraState.OFFLINE
        if up == self._announced_up:
            return None
        previous, self._announced_up = self._announced_up, up
        if up and previous is None:
            return None  # first sight after start: nothing was announced as down
        kind = EventKind.CAMERA_ONLINE if up else EventKind.CAMERA_OFFLINE
        return Transition(kind, obs.t, reason)

    def _classify(self, obs: Observation, first: Observation,
                  span: float) -> tuple[CameraState | None, str]:
        if obs.last_frame is None:
            if obs.t - self.started < self.offline_after:
                return None, ""  # still connecting
            return CameraState.OFFLINE, obs.last_error or "no frame since start"
        if obs.t - obs.last_frame >= self.offline_after:
            silent = obs.t - obs.last_frame
            detail = f"no frame for {silent:.0f} s"
            return CameraState.OFFLINE, f"{detail}: {obs.last_error}" if obs.last_error else detail
        if obs.tampers:
            return CameraState.TAMPERED, ",".join(obs.tampers)
        if obs.decode_errors > first.decode_errors:
            return CameraState.DEGRADED, f"{obs.decode_errors - first.decode_errors} decode errors"
        up_since = self._up_since if self._up_since is not None else obs.t
        connected_long_enough = obs.t - up_since >= FPS_WINDOW_SECONDS
        if (span >= FPS_WINDOW_SECONDS * 0.8 and connected_long_enough
                and self.fps_sampled < DEGRADED_FPS_FRACTION * self.detect_fps):
            return (CameraState.DEGRADED,
                    f"{self.fps_sampled:.1f} fps sampled, expected {self.detect_fps:g}")
        return CameraState.ONLINE, ""


def read_previous_statuses(client: redis.Redis,
                           camera_ids: Sequence[str]) -> dict[str, CameraState]:
    """The status each camera had in Redis (left by an earlier run), where still there."""
    try:
        states = read_states(client, camera_ids)
    except redis.RedisError as exc:
        log.warning("cannot read previous camera statuses: %s", exc)
        return {}
    return {camera_id: state for camera_id, state in zip(camera_ids, states, strict=True)
            if state is not None}


class StatusWriter:
    """Writes status hashes with a TTL, tolerating Redis outages (counted, logged once)."""

    def __init__(self, client: redis.Redis, ttl_seconds: int) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self.failures = 0
        self.writes = 0
        self._down = False

    def write(self, cameras: Mapping[str, CameraStatus], worker_id: str,
              worker_fields: dict[str, str]) -> bool:
        """Write every camera hash and the worker heartbeat; False when Redis failed."""
        try:
            pipe = self._client.pipeline(transaction=False)
            for camera_id, status in cameras.items():
                key = names.camera_status_key(camera_id)
                pipe.hset(key, mapping=hash_mapping(status.to_hash()))
                pipe.expire(key, self._ttl)
            wkey = names.worker_key(worker_id)
            pipe.hset(wkey, mapping=hash_mapping(worker_fields))
            pipe.expire(wkey, self._ttl)
            pipe.execute()
        except redis.RedisError as exc:
            self.failures += 1
            if not self._down:
                log.warning("cannot write camera status to Redis (will keep trying): %s", exc)
                self._down = True
            return False
        if self._down:
            log.info("camera status writes to Redis resumed")
            self._down = False
        self.writes += 1
        return True

    def remove_worker(self, worker_id: str) -> None:
        """Remove the worker's own heartbeat at a clean stop (camera hashes expire)."""
        try:
            self._client.delete(names.worker_key(worker_id))
        except redis.RedisError as exc:
            log.debug("cannot remove worker heartbeat: %s", exc)
