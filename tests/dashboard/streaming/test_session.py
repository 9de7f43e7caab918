"""A viewer's connection: audited channels, bounded queue, slow viewers dropped; and the
hub's one upstream per camera stream, against the real RTSP simulator and ffmpeg."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from compoundeye.auth.roles import Role
from compoundeye.site.models import Site
from compoundeye.store import Store
from dashboard.streaming.hub import Hub
from dashboard.streaming.session import SLOW_CLOSE_CODE, LiveSession
from dashboard.streaming.tickets import Ticket
from sample_streams.simulator import RtspSimulator

TICKET = Ticket("desk-1", Role.OPERATOR, time.time() + 30, "n1", "10.1.2.3")


class Clock:
    """A monotonic clock the test moves by hand (the hub's linger)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Peer:
    """The far end of a connection: collects what is sent; ``stuck`` never reads."""

    def __init__(self, *, stuck: bool = False) -> None:
        self.stuck = stuck
        self.binary: dict[int, int] = {}
        self.events: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        self._never = asyncio.Event()

    async def send(self, message: bytes | str) -> None:
        if self.stuck:
            await self._never.wait()
        if isinstance(message, bytes):
            self.binary[message[0]] = self.binary.get(message[0], 0) + len(message) - 1
        else:
            self.events.append(json.loads(message))

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)


def _site(sim: RtspSimulator) -> Site:
    return Site.model_validate({"name": "t", "cameras": [
        {"id": cam, "main_url": sim.url(cam, "main"), "sub_url": sim.url(cam, "sub"),
         "location": {"building": "B1", "lat": 31.1, "lon": 121.4}} for cam in sim.cameras]})


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'audit.db'}")


def _session(hub: Hub, store: Store, peer: Peer, sid: str, **kw: Any) -> LiveSession:
    return LiveSession(hub, TICKET, store.audit, peer.send, peer.close, session_id=sid,
                       ip=TICKET.ip, **kw)


async def _until(check: Any, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.1)


@pytest.mark.slow
def test_one_upstream_for_every_viewer_closed_after_the_linger(
        rtsp_simulator: RtspSimulator, store: Store) -> None:
    clock = Clock()

    async def scenario() -> None:
        hub = Hub(_site(rtsp_simulator), linger=25.0, clock=clock)
        peers = [Peer() for _ in range(3)]
        sessions = [_session(hub, store, p, f"s{i}") for i, p in enumerate(peers)]
        pumps = [asyncio.create_task(s.pump()) for s in sessions]
        for s in sessions:
            await s.handle(json.dumps({"op": "play", "ch": 5, "camera": "cam7", "stream": "sub"}))
        await _until(lambda: all(p.binary.get(5, 0) > 2000 for p in peers), 30)
        assert len(hub.upstreams) == 1
        assert rtsp_simulator.sessions().get("/cam7/sub") == 1  # one session at the camera
        upstream = hub.upstreams[("cam7", "sub")]
        assert upstream.ts.codec == "h264" and len(upstream.subscribers) == 3
        pid = upstream.stats.pid
        for s in sessions:
            await s.end("viewer closed")
        clock.now += 24.0
        assert await hub.reap() == 0  # lingering: a returning viewer gets it at once
        clock.now += 2.0
        assert await hub.reap() == 1
        assert not hub.upstreams and pid is not None
        await _until(lambda: not psutil.pid_exists(pid), 10)
        await _until(lambda: rtsp_simulator.sessions().get("/cam7/sub", 0) == 0, 15)
        for pump in pumps:
            pump.cancel()

    asyncio.run(scenario())
    rows = store.audit.list(target="cam7")
    assert sorted(r.action for r in rows) == ["live.end"] * 3 + ["live.start"] * 3
    end = next(r for r in rows if r.action == "live.end")
    assert end.actor == "desk-1" and end.role == "operator" and end.ip == "10.1.2.3"
    assert end.details["stream"] == "sub" and end.details["start"] < end.details["end"]
    assert end.details["reason"] == "viewer closed"


@pytest.mark.slow
def test_a_slow_viewer_is_dropped_and_the_others_keep_playing(
        rtsp_simulator: RtspSimulator, store: Store) -> None:
    async def scenario() -> None:
        hub = Hub(_site(rtsp_simulator), linger=0.0)
        good, slow = Peer(), Peer(stuck=True)
        fast = _session(hub, store, good, "fast")
        stuck = _session(hub, store, slow, "slow", max_queue_bytes=64 * 1024)
        tasks = [asyncio.create_task(fast.pump()), asyncio.create_task(stuck.pump())]
        for s in (fast, stuck):
            await s.handle(json.dumps({"op": "play", "ch": 1, "camera": "cam8",
                                       "stream": "main"}))
        await _until(lambda: stuck.dropped is not None, 60)
        assert slow.closed is not None and slow.closed[0] == SLOW_CLOSE_CODE
        assert stuck.queued_bytes == 0 and stuck.peak_queued <= 64 * 1024
        received = good.binary.get(1, 0)
        await _until(lambda: good.binary.get(1, 0) > received + 20_000, 30)
        upstream = hub.upstreams[("cam8", "main")]
        assert len(upstream.subscribers) == 1 and upstream.stats.restarts == 0
        await fast.end("viewer closed")
        await stuck.end("connection lost")
        await hub.close_all()
        for task in tasks:
            task.cancel()

    asyncio.run(scenario())
    ends = [r for r in store.audit.list(action="live.end", target="cam8")]
    assert {r.details["reason"] for r in ends} == {
        "viewer closed", "too slow: the viewer fell behind the live stream"}


def test_bad_requests_get_a_reason_and_no_audit_row(tmp_path: Path, store: Store) -> None:
    site = Site.model_validate({"name": "t", "cameras": [
        {"id": "cam1", "main_url": "rtsp://127.0.0.1:1/x",
         "location": {"building": "B1", "lat": 31.1, "lon": 121.4}}]})

    async def scenario() -> Peer:
        hub = Hub(site)
        peer = Peer()
        session = _session(hub, store, peer, "s")
        pump = asyncio.create_task(session.pump())
        for text in ["not json", "[1]", json.dumps({"op": "play", "ch": 300}),
                     json.dumps({"op": "play", "ch": 1, "camera": "nope"}),
                     json.dumps({"op": "play", "ch": 2, "camera": "cam1", "stream": "hd"}),
                     json.dumps({"op": "dance", "ch": 3})]:
            await session.handle(text)
        await asyncio.sleep(0.05)
        await session.end("viewer closed")
        pump.cancel()
        assert not hub.upstreams
        return peer

    peer = asyncio.run(scenario())
    reasons = [e["reason"] for e in peer.events if e.get("event") == "error"]
    assert len(reasons) == 6
    assert any("unknown camera 'nope'" in r for r in reasons)
    assert any("stream must be one of" in r for r in reasons)
    assert store.audit.list() == []


def test_no_audit_row_no_video(tmp_path: Path) -> None:
    site = Site.model_validate({"name": "t", "cameras": [
        {"id": "cam1", "main_url": "rtsp://127.0.0.1:1/x",
         "location": {"building": "B1", "lat": 31.1, "lon": 121.4}}]})
    # A real PostgreSQL driver pointed at a closed port: every audit write fails.
    down = Store("postgresql+psycopg://nobody@127.0.0.1:1/none", auto_migrate=False,
                 connect_args={"connect_timeout": 2})

    async def scenario() -> tuple[Peer, Hub]:
        hub = Hub(site)
        peer = Peer()
        session = _session(hub, down, peer, "s")
        pump = asyncio.create_task(session.pump())
        await session.handle(json.dumps({"op": "play", "ch": 0, "camera": "cam1"}))
        await asyncio.sleep(0.05)
        pump.cancel()
        return peer, hub

    peer, hub = asyncio.run(scenario())
    assert not hub.upstreams
    assert any("audit trail unavailable" in e.get("reason", "") for e in peer.events)


def test_a_camera_that_refuses_says_why_without_its_password() -> None:
    site = Site.model_validate({"name": "t", "cameras": [
        {"id": "cam1", "main_url": "rtsp://admin:s3cret-pw@127.0.0.1:1/Streaming/Channels/101",
         "location": {"building": "B1", "lat": 31.1, "lon": 121.4}}]})

    class Sink:
        def __init__(self) -> None:
            self.events: list[dict[str, object]] = []

        def deliver(self, data: bytes) -> None:
            raise AssertionError("no bytes from a camera that refuses")

        def notify(self, event: dict[str, object]) -> None:
            self.events.append(event)

    async def scenario() -> tuple[Sink, str]:
        hub = Hub(site)
        sink = Sink()
        upstream = hub.subscribe("cam1", "main", sink)
        await _until(lambda: sink.events, 20)
        reason = upstream.stats.last_error
        await hub.close_all()
        return sink, reason

    sink, reason = asyncio.run(scenario())
    assert sink.events[0]["event"] == "stalled"
    assert "s3cret-pw" not in str(sink.events) and "s3cret-pw" not in reason
    assert reason  # ffmpeg's own words (connection refused), redacted
