"""Camera status state machine (fake clock) and the TTL'd status hashes in real Redis."""

from __future__ import annotations

import redis

from compoundeye import names
from compoundeye.camera_status import CameraState, CameraStatus
from compoundeye.events import EventKind
from ingest.status import CameraHealth, Observation, StatusWriter, read_previous_statuses


class Feed:
    """Drives a CameraHealth like a 15 fps camera sampled at 5 fps, one step a second."""

    def __init__(self, health: CameraHealth, t0: float = 1000.0) -> None:
        self.health = health
        self.t = t0
        self.frames = 0
        self.sampled = 0
        self.errors = 0
        self.last: float | None = None
        self.tampers: tuple[str, ...] = ()

    def step(self, fps: float = 15, sampled: float = 5, seconds: float = 1.0):
        self.t += seconds
        self.frames += int(fps * seconds)
        self.sampled += int(sampled * seconds)
        if fps:
            self.last = self.t
        return self.health.observe(Observation(self.t, self.frames, self.sampled, self.errors,
                                               0, self.last, self.tampers, "read timed out"))


def test_online_then_offline_then_online_announced_once_each() -> None:
    feed = Feed(CameraHealth(5, 10, started=1000.0))
    transitions = [feed.step() for _ in range(10)]
    assert feed.health.status is CameraState.ONLINE
    assert transitions == [None] * 10  # first sight after start is not news
    down = [feed.step(fps=0, sampled=0) for _ in range(15)]
    offline = [t for t in down if t is not None]
    assert len(offline) == 1 and offline[0].kind == EventKind.CAMERA_OFFLINE
    assert down.index(offline[0]) == 9  # after 10 s without a frame
    assert "no frame for 10 s" in offline[0].reason
    assert str(feed.health.status) == CameraState.OFFLINE
    back = [feed.step() for _ in range(10)]
    online = [t for t in back if t is not None]
    assert [t.kind for t in online] == [EventKind.CAMERA_ONLINE]
    assert back[0] is online[0]


def test_never_connected_goes_offline_after_the_grace() -> None:
    health = CameraHealth(5, 10, started=1000.0)
    out = [health.observe(Observation(1000.0 + s, 0, 0, 0, 0, None, (), "cannot open stream"))
           for s in range(1, 13)]
    assert str(health.status) == CameraState.OFFLINE
    events = [t for t in out if t is not None]
    assert len(events) == 1 and events[0].reason == "cannot open stream"
    assert out.index(events[0]) == 9


def test_previous_offline_in_redis_makes_first_frame_news() -> None:
    feed = Feed(CameraHealth(5, 10, started=1000.0, previous=CameraState.OFFLINE))
    first = feed.step()
    assert first is not None and first.kind == EventKind.CAMERA_ONLINE


def test_low_fps_is_degraded_and_not_an_up_down_change() -> None:
    feed = Feed(CameraHealth(5, 10, started=1000.0))
    for _ in range(8):
        feed.step()
    out = [feed.step(fps=3, sampled=1) for _ in range(8)]
    assert str(feed.health.status) == CameraState.DEGRADED
    assert "expected 5" in feed.health.reason
    assert out == [None] * 8
    for _ in range(8):
        feed.step()
    assert str(feed.health.status) == CameraState.ONLINE


def test_decode_errors_degrade_and_tamper_wins() -> None:
    feed = Feed(CameraHealth(5, 10, started=1000.0))
    feed.step()
    feed.errors += 3
    feed.step()
    assert str(feed.health.status) == CameraState.DEGRADED and "decode errors" in feed.health.reason
    feed.tampers = ("blackout",)
    feed.step()
    assert str(feed.health.status) == CameraState.TAMPERED and feed.health.reason == "blackout"


def test_status_writer_sets_ttl_and_previous_statuses(redis_client: redis.Redis) -> None:
    writer = StatusWriter(redis_client, ttl_seconds=15)
    assert writer.write({"cam1": CameraStatus(status=CameraState.OFFLINE, reason="x"),
                         "cam2": CameraStatus(status=CameraState.ONLINE, reason=None)},
                        "w1", {"cameras": "2"})
    key = names.camera_status_key("cam1")
    assert redis_client.hget(key, "status") == b"offline"
    assert 0 < redis_client.ttl(key) <= 15
    assert 0 < redis_client.ttl(names.worker_key("w1")) <= 15
    assert read_previous_statuses(redis_client, ["cam1", "cam2", "cam3"]) == {
        "cam1": "offline", "cam2": "online"}
    writer.remove_worker("w1")
    assert not redis_client.exists(names.worker_key("w1"))


def test_status_writer_survives_unreachable_redis() -> None:
    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    writer = StatusWriter(dead, ttl_seconds=15)
    assert not writer.write({"cam1": CameraStatus(status=CameraState.ONLINE)}, "w1", {})
    assert not writer.write({"cam1": CameraStatus(status=CameraState.ONLINE)}, "w1", {})
    assert writer.failures == 2
    assert read_previous_statuses(dead, ["cam1"]) == {}
