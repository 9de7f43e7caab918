"""Metrics: interval fields from counters, and the exact series names in VictoriaMetrics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from compoundeye.services import tsdb_force_flush
from compoundeye.tsdb import MetricsReader, MetricsWriter
from ingest.metrics import CameraCounters, MetricsCollector, camera_fields


def counters(t: float, **kw) -> CameraCounters:
    base = {"up": True, "frames_in": 0, "processed": 0, "dropped": 0, "decode_cpu_seconds": 0.0,
            "reconnects": 0, "motion_sum": 0.0, "motion_frames": 0, "recorded_bytes": 0}
    return CameraCounters(t=t, **(base | kw))


def test_interval_fields() -> None:
    a = counters(100.0, frames_in=1000, processed=300, dropped=5, decode_cpu_seconds=1.0,
                 reconnects=1, motion_sum=2.0, motion_frames=100, recorded_bytes=10_000)
    b = counters(110.0, frames_in=1150, processed=350, dropped=7, decode_cpu_seconds=1.3,
                 reconnects=1, motion_sum=7.0, motion_frames=150, recorded_bytes=35_000)
    assert camera_fields(a, b) == {
        "up": 1, "fps_in": 15.0, "fps_processed": 5.0, "dropped": 2, "decode_ms": 2.0,
        "reconnects": 0, "motion_fraction": 0.1, "recorded_bytes": 25_000}
    idle = camera_fields(b, counters(120.0, up=False, frames_in=1150))
    assert idle["up"] == 0 and idle["decode_ms"] == 0.0 and idle["motion_fraction"] == 0.0


def test_series_names_in_victoriametrics(tsdb_url: str) -> None:
    worker = f"w-{uuid.uuid4().hex[:8]}"
    writer = MetricsWriter(tsdb_url)
    try:
        collector = MetricsCollector(writer, worker, {"cam1": "B7"})
        now = datetime.now(UTC)
        collector.record({"cam1": counters(1.0)}, now)
        collector.record({"cam1": counters(11.0, frames_in=150, processed=50)}, now)
        assert writer.flush(10)
    finally:
        writer.close()
    assert writer.stats.lost == 0
    tsdb_force_flush(tsdb_url)
    with MetricsReader(tsdb_url) as reader:
        for name in ("camera_up", "camera_fps_in", "camera_fps_processed", "camera_dropped",
                     "camera_decode_ms", "camera_reconnects", "camera_motion_fraction",
                     "camera_recorded_bytes"):
            samples = reader.query(f'{name}{{worker="{worker}"}}')
            assert len(samples) == 1, name
            assert samples[0].labels["camera"] == "cam1"
            assert samples[0].labels["building"] == "B7"
        assert reader.value(f'camera_fps_in{{worker="{worker}"}}') == 15.0
        assert (reader.value(f'worker_rss_bytes{{worker="{worker}"}}') or 0) > 10_000_000
        assert reader.value(f'worker_cpu_percent{{worker="{worker}"}}') is not None
