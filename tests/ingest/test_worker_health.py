"""Health mode through the real edge worker and the RTSP simulator.

One worker (in this process, so its clock can be a fake one) watches two cameras: ``tam``
plays the tamper clip and is configured ``detect_mode: health``; ``ent`` plays the people
clip with a zone armed at night (``armed``), and the fake clock starts at noon in
Shanghai. ``tam`` must publish tamper and tamper-cleared, offline and online from keyframes
and packets alone; ``ent`` must switch to full at 22:00 and back, on the same session.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

import pytest
import redis

from compoundeye import names
from compoundeye.events import Event, EventKind
from compoundeye.services import ServiceSet
from compoundeye.settings import Settings
from compoundeye.site.models import Site
from ingest.packet_reader import PacketReader
from ingest.worker import EdgeWorker, WorkerOptions
from sample_streams.simulator import RtspSimulator
from tests.polling import wait_until

pytestmark = [pytest.mark.slow]
SHANGHAI = ZoneInfo("Asia/Shanghai")


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Running:
    worker: EdgeWorker
    sim: RtspSimulator
    clock: FakeClock
    client: redis.Redis

    def events(self, camera: str) -> list[Event]:
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]],
                       self.client.xrange(names.EVENTS_STREAM))
        found = [Event.from_json(fields[b"e"]) for _id, fields in entries]
        return [e for e in found if e.source.id == camera]

    def status(self, camera: str) -> dict[str, str]:
        raw = cast(dict[bytes, bytes], self.client.hgetall(names.camera_status_key(camera)))
        return {k.decode(): v.decode() for k, v in raw.items()}

    def reader(self, camera: str) -> PacketReader:
        reader = self.worker._entries[camera].pipeline.reader
        assert isinstance(reader, PacketReader)
        return reader


def wait_for(predicate, timeout: float, what: str) -> None:
    wait_until(predicate, timeout, 0.25, what=what)


@pytest.fixture(scope="module")
def running(rtsp_simulator_factory, services: ServiceSet,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    sim: RtspSimulator = rtsp_simulator_factory({"tam": "tamper", "ent": "people"}, fresh=True)
    loc = {"building": "B001", "lat": 31.11, "lon": 121.38}
    site = Site.model_validate({
        "timezone": "Asia/Shanghai",
        "schedules": {"night": {"ranges": [{"start": "22:00", "end": "06:00"}]}},
        "edge": {"offline_after_seconds": 4, "heartbeat_ttl_seconds": 15,
                 "health": {"keyframe_interval_seconds": 4}},
        "cameras": [
            {"id": "tam", "main_url": sim.url("tam", "main"), "sub_url": sim.url("tam", "sub"),
             "location": loc, "detect_mode": "health"},
            {"id": "ent", "main_url": sim.url("ent", "main"), "sub_url": sim.url("ent", "sub"),
             "location": loc, "detect_mode": "armed",
             "zones": [{"name": "approach", "armed_schedule": "night",
                        "polygon": [[0, 0.4], [1, 0.4], [1, 1], [0, 1]]}]},
        ]})
    client = redis.Redis.from_url(services.redis_url)
    client.flushall()
    data = tmp_path_factory.mktemp("edge-health")
    settings = Settings(redis_url=services.redis_url, tsdb_url=services.tsdb_url,
                        data_dir=data)
    clock = FakeClock(datetime(2026, 11, 27, 12, 0, tzinfo=SHANGHAI))
    worker = EdgeWorker(site, settings, WorkerOptions(worker_id="edge-health", record=False,
                                                      metrics=False, status_interval=0.5,
                                                      clock=clock))
    thread = threading.Thread(target=worker.run, name="edge-health")
    thread.start()
    try:
        assert worker.started.wait(20)
        yield Running(worker, sim, clock, client)
    finally:
        worker.stop()
        thread.join(15)
        client.close()
    assert not thread.is_alive()


@pytest.mark.timeout(120)
def test_health_mode_camera_reports_tamper_from_keyframes_only(running: Running) -> None:
    wait_for(lambda: running.status("tam").get("mode") == "health", 20, "tam in health mode")
    wait_for(lambda: any(e.kind == EventKind.CAMERA_TAMPER for e in running.events("tam")),
             80, "a camera.tamper from the health-mode camera")
    wait_for(lambda: any(e.kind == EventKind.CAMERA_TAMPER_CLEARED
                         for e in running.events("tam")), 40, "the tamper cleared")
    stats = running.reader("tam").stats
    # Every packet counted, a small share decoded: keyframes only.
    assert stats.frames_in > 100
    assert stats.frames_decoded == stats.keyframes_decoded
    assert 0 < stats.frames_decoded < stats.frames_in / 8
    assert stats.reconnects == 0


@pytest.mark.timeout(90)
def test_health_mode_camera_goes_offline_and_online_from_the_packet_flow(
        running: Running) -> None:
    wait_for(lambda: running.status("tam").get("status") in ("online", "tampered"), 20,
             "tam up")
    running.sim.take_offline("tam")
    try:
        wait_for(lambda: any(e.kind == EventKind.CAMERA_OFFLINE for e in running.events("tam")),
                 30, "camera.offline")
        assert running.status("tam")["status"] == "offline"
    finally:
        running.sim.bring_online("tam")
    wait_for(lambda: any(e.kind == EventKind.CAMERA_ONLINE for e in running.events("tam")),
             40, "camera.online")
    assert running.status("tam")["mode"] == "health"


@pytest.mark.timeout(90)
def test_mode_switches_on_schedule_without_reconnecting(running: Running) -> None:
    reader = running.reader("ent")
    wait_for(lambda: reader.stats.frames_in > 30 and running.status("ent").get("mode")
             == "health", 20, "ent in health mode")
    reconnects = reader.stats.reconnects
    decoded = reader.stats.frames_decoded
    assert decoded < reader.stats.frames_in / 8
    running.clock.at = datetime(2026, 11, 27, 22, 0, tzinfo=SHANGHAI)  # night: armed
    wait_for(lambda: running.status("ent").get("mode") == "full", 10, "ent in full mode")
    pipeline = running.worker._entries["ent"].pipeline
    processed, received = pipeline.stats.processed, reader.stats.frames_in
    # Full rate: every frame decoded from the next keyframe on, 5 fps to the motion detector.
    wait_for(lambda: pipeline.stats.processed - processed >= 12
             and reader.stats.frames_decoded - decoded > 40, 20, "full-rate decoding")
    since = reader.stats.frames_in - received
    assert reader.stats.frames_decoded - decoded >= since - 30  # at most a GOP skipped
    running.clock.at += timedelta(hours=8, minutes=1)  # 06:01: disarmed again
    wait_for(lambda: running.status("ent").get("mode") == "health", 10, "ent back in health")
    # The status says what the reader was asked; the reader switches at its next packet.
    wait_for(lambda: reader.stats.mode_switches == 2 and reader.stats.mode == "health", 5,
             "the reader in health mode")
    assert reader.stats.reconnects == reconnects
    assert running.status("ent")["reconnects"] == str(reconnects)
    assert running.status("ent")["status"] in ("online", "degraded")
