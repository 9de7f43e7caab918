"""Metrics writer and reader against a real VictoriaMetrics."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from compoundeye.services import ServiceSet, tsdb_force_flush
from compoundeye.tsdb import MetricsQueryError, MetricsReader, MetricsWriter, to_line
from tests.polling import poll

pytestmark = pytest.mark.timeout(90)

T = TypeVar("T")


@pytest.fixture
def reader(tsdb_url: str) -> Iterator[MetricsReader]:
    with MetricsReader(tsdb_url) as r:
        yield r


def test_line_protocol_escaping() -> None:
    ts = datetime(2026, 11, 28, 1, 2, 3, 456000, tzinfo=UTC)
    line = to_line("cam", {"fps": 5.0, "frames": 3, "ok": True, "s": 'a"b'},
                   {"camera": "c 1,x=y", "empty": ""}, ts)
    assert line == (
        r'cam,camera=c\ 1\,x\=y fps=5.0,frames=3i,ok=true,s="a\"b" ' + str(1795827723456)
    )
    with pytest.raises(ValueError, match="naive"):
        to_line("cam", {"fps": 1.0}, ts=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="field"):
        to_line("cam", {})


def test_written_point_reads_back_with_promql(tsdb_url: str, reader: MetricsReader) -> None:
    """Issue acceptance: influxdb-client line protocol in, PromQL out."""
    ts = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
    with MetricsWriter(tsdb_url, flush_interval_ms=50) as writer:
        writer.write("ce_test_camera", {"fps": 4.5, "frames": 120},
                     {"camera": "cam-01", "building": "B7"}, ts)
        writer.write("ce_test_camera", {"fps": 5.5, "frames": 240},
                     {"camera": "cam-02", "building": "B7"}, ts)
        assert writer.flush(10)
        assert writer.stats.written == 2
        assert writer.stats.lost == 0

    samples = poll(lambda: reader.query('ce_test_camera_fps{building="B7"}'), 15, 0.1,
                   between=lambda: tsdb_force_flush(tsdb_url))
    by_camera = {s.labels["camera"]: s for s in samples}
    assert set(by_camera) == {"cam-01", "cam-02"}
    assert by_camera["cam-01"].value == 4.5
    assert by_camera["cam-01"].name == "ce_test_camera_fps"
    assert by_camera["cam-01"].ts.tzinfo is not None
    assert reader.value('sum(ce_test_camera_frames{building="B7"})') == 360.0
    assert reader.value('ce_test_camera_fps{camera="nope"}', default=-1.0) == -1.0

    series = reader.query_range(
        'ce_test_camera_fps{camera="cam-02"}', ts - timedelta(seconds=10), ts, step_seconds=1
    )
    assert len(series) == 1
    assert series[0].points[-1] == (ts, 5.5)


def test_bad_promql_is_a_clear_error(reader: MetricsReader) -> None:
    with pytest.raises(MetricsQueryError, match="failed"):
        reader.query("sum(")


def test_unreachable_tsdb_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with MetricsReader(f"http://127.0.0.1:{port}") as dead, pytest.raises(
        MetricsQueryError, match="unreachable"
    ):
        dead.query("up")


def test_outage_never_blocks_the_caller_and_counts_loss() -> None:
    """A TSDB that accepts connections but never answers: writes return, loss is counted."""
    with socket.socket() as blackhole:
        blackhole.bind(("127.0.0.1", 0))
        blackhole.listen(1)
        port = blackhole.getsockname()[1]
        writer = MetricsWriter(
            f"http://127.0.0.1:{port}", buffer_size=100, batch_size=10, max_in_flight=20,
            flush_interval_ms=20, max_retries=0, timeout_ms=1_000,
        )
        done = threading.Event()

        def produce() -> None:
            for i in range(5_000):
                writer.write("ce_test_outage", {"v": float(i)}, {"camera": "c1"})
            done.set()

        producer = threading.Thread(target=produce)
        producer.start()
        producer.join(30)
        assert done.is_set(), "writes blocked while the TSDB did not answer"
        stats = writer.stats
        assert stats.accepted == 5_000
        assert stats.dropped >= 5_000 - 100 - 20
        assert writer.pending <= 120
        writer.close(timeout=1)
        final = writer.stats
        assert final.written == 0
        assert final.written + final.lost == final.accepted


def test_writer_recovers_after_tsdb_restart() -> None:
    with ServiceSet(env={"CE_REDIS_URL": "redis://unused", "CE_MQTT_URL": "mqtt://unused"}) as own:
        url = own.tsdb_url
        ts = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=2)
        with MetricsWriter(url, flush_interval_ms=20, max_retries=0, timeout_ms=1000) as writer:
            own.stop_service("tsdb")
            writer.write("ce_test_restart", {"v": 1.0}, {"phase": "down"}, ts)
            assert writer.flush(15)
            assert writer.stats.failed == 1
            own.start_service("tsdb")
            writer.write("ce_test_restart", {"v": 2.0}, {"phase": "up"}, ts)
            assert writer.flush(15)
            assert writer.stats.written == 1
        with MetricsReader(url) as r:
            samples = poll(lambda: r.query("ce_test_restart_v"), 15, 0.1,
                           between=lambda: tsdb_force_flush(url))
        assert [(s.labels["phase"], s.value) for s in samples] == [("up", 2.0)]
