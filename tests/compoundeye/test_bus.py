"""The Redis bus against real Redis: idempotent sink, buffering through an outage, dead letters."""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from compoundeye import names
from compoundeye.bus import BufferedPublisher, EventSink, connect, dead_letter
from compoundeye.events import Event, EventKind, make_event
from compoundeye.replication import ReplicaWait
from compoundeye.services import free_port, redis_answers, terminate_group
from tests.polling import poll

T0 = datetime(2026, 11, 3, 21, 40, tzinfo=UTC)


def event(n: int, source: str = "B001-door1") -> Event:
    return make_event(EventKind.DOOR_OPENED, "door", source, T0 + timedelta(seconds=n),
                      {"n": n})


def entries(client: redis.Redis, stream: str) -> list[dict[bytes, bytes]]:
    """The fields of every entry of a stream (a client without decode_responses)."""
    raw: list[tuple[bytes, dict[bytes, bytes]]] = client.xrange(stream)  # type: ignore[assignment]
    return [fields for _, fields in raw]


def stream_events(client: redis.Redis, stream: str = names.EVENTS_STREAM) -> list[Event]:
    return [Event.from_json(fields[names.EVENT_FIELD.encode()])
            for fields in entries(client, stream)]


class PrivateRedis:
    """A redis-server of this test's own on a fixed port, started and stopped at will."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.workdir = workdir
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        assert poll(lambda: redis_answers(self.url)), "private redis did not start"

    def stop(self) -> None:
        if self.process is not None:
            terminate_group(self.process)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    try:
        yield server
    finally:
        server.stop()


def test_sink_adds_each_event_once(redis_client: redis.Redis) -> None:
    sink = EventSink(redis_client)
    first = sink.add(event(1))
    assert first is not None
    assert sink.add(event(1)) is None  # a redelivery: refused
    assert sink.add(event(2)) is not None
    assert [e.id for e in stream_events(redis_client)] == [event(1).id, event(2).id]
    assert stream_events(redis_client)[0] == event(1)
    ttl = redis_client.ttl(names.seen_key(event(1).id))
    assert 0 < ttl <= 24 * 3600


def test_sink_on_another_stream(redis_client: redis.Redis) -> None:
    EventSink(redis_client, stream="ce:test").add(event(1))
    assert redis_client.xlen("ce:test") == 1
    assert redis_client.exists(names.EVENTS_STREAM) == 0


@pytest.mark.timeout(60)
def test_publisher_buffers_while_redis_is_unreachable_and_delivers_in_order(
        private_redis: PrivateRedis) -> None:
    client = connect(private_redis.url, timeout=0.5)  # nothing listens on the port yet
    publisher = BufferedPublisher(client, retry_seconds=0.05)
    thread = threading.Thread(target=publisher.run, daemon=True)
    thread.start()
    try:
        for n in range(200):
            publisher.publish(event(n))
        publisher.publish(event(3))  # a duplicate of one still buffered
        assert poll(lambda: publisher.stats.failures >= 2)
        assert publisher.pending == 201
        assert publisher.stats.published == 0

        private_redis.start()
        assert poll(lambda: publisher.pending == 0), publisher.stats
        for n in range(200, 210):  # and it keeps publishing afterwards
            publisher.publish(event(n))
        assert poll(lambda: publisher.pending == 0)
    finally:
        publisher.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
    delivered = stream_events(client)
    assert [e.attrs["n"] for e in delivered] == list(range(210))
    assert publisher.stats.published == 210
    assert publisher.stats.duplicates == 1
    assert publisher.stats.dropped == 0
    client.close()


@pytest.mark.timeout(60)
def test_publisher_survives_a_redis_restart(private_redis: PrivateRedis) -> None:
    private_redis.start()
    client = connect(private_redis.url, timeout=0.5)
    publisher = BufferedPublisher(client, retry_seconds=0.05)
    publisher.publish(event(0))
    assert publisher.deliver_pending()
    private_redis.stop()
    publisher.publish(event(1))
    publisher.publish(event(2))
    assert not publisher.deliver_pending()
    assert publisher.pending == 2
    private_redis.start()  # an empty Redis: only the buffered events arrive
    assert publisher.deliver_pending()
    assert [e.attrs["n"] for e in stream_events(client)] == [1, 2]
    client.close()


def test_full_buffer_drops_the_oldest_and_counts(private_redis: PrivateRedis) -> None:
    client = connect(private_redis.url, timeout=0.5)
    publisher = BufferedPublisher(client, limit=3)
    for n in range(5):
        publisher.publish(event(n))
    assert publisher.pending == 3
    assert publisher.stats.dropped == 2
    assert not publisher.deliver_pending()
    private_redis.start()
    assert publisher.deliver_pending()
    assert [e.attrs["n"] for e in stream_events(client)] == [2, 3, 4]
    client.close()


def test_dead_letter_truncates_raw_bytes_and_records_why(redis_client: redis.Redis) -> None:
    raw = bytes(range(256)) * 40  # 10,240 bytes, not UTF-8
    dead_letter(redis_client, raw, "not JSON: expecting value", "mqtt:doors/B001-door1/events",
                topic="doors/B001-door1/events")
    dead_letter(redis_client, "short \udcff text", "r" * 5000, "camera:B001-ent1")
    first, second = entries(redis_client, names.DEADLETTER_STREAM)
    assert first[b"raw"] == raw[: names.DEADLETTER_RAW_LIMIT]
    assert int(first[b"raw_len"]) == len(raw)
    assert first[b"truncated"] == b"1"
    assert first[b"reason"] == b"not JSON: expecting value"
    assert first[b"source"] == b"mqtt:doors/B001-door1/events"
    assert first[b"topic"] == b"doors/B001-door1/events"
    assert first[b"ts"].endswith(b"Z")
    assert second[b"raw"] == b"short \xff text"
    assert second[b"truncated"] == b"0"
    assert len(second[b"reason"]) == 1000


@pytest.mark.timeout(60)
def test_sink_keeps_what_no_replica_confirmed_and_writes_it_again_on_a_new_server(
        private_redis: PrivateRedis) -> None:
    private_redis.start()
    client = connect(private_redis.url)
    wait = ReplicaWait(replicas=1, timeout_ms=20, recheck_seconds=60)
    sink = EventSink(client, wait=wait, unconfirmed_limit=3)
    try:
        for n in range(5):  # no replica: the first WAIT comes short, then none for 60 s
            assert sink.add(event(n)) is not None
        stats = sink.unconfirmed.stats
        assert (stats.short_waits, stats.forgotten, len(sink.unconfirmed)) == (1, 2, 3)
        private_redis.stop()
        private_redis.start()  # empty, with another run_id: what it held is gone
        assert sink.add(event(5)) is not None
        assert stats.server_changes == 1 and stats.resent == 3
        assert sink.add_again() == 3
        assert sink.add_again() == 0
        assert [e.attrs["n"] for e in stream_events(client)] == [5, 2, 3, 4]
    finally:
        client.close()
