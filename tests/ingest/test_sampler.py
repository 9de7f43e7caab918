"""Frame sampling to the detect rate and the queue that drops instead of blocking."""

from __future__ import annotations

import threading
import time

import pytest

from ingest.sampler import DropQueue, FrameSampler


def kept(sampler: FrameSampler, times: list[float]) -> list[float]:
    return [t for t in times if sampler.due(t)]


def test_15fps_to_5fps_keeps_every_third_frame() -> None:
    times = [i / 15 for i in range(150)]
    out = kept(FrameSampler(5), times)
    assert len(out) == 50
    assert out == times[::3]


def test_jitter_does_not_change_the_rate() -> None:
    times = [i / 15 + (0.004 if i % 2 else -0.004) for i in range(1, 301)]
    assert len(kept(FrameSampler(5), times)) == 100


def test_odd_ratio_keeps_the_average_rate() -> None:
    times = [i / 12 for i in range(1200)]  # 100 s at 12 fps
    assert abs(len(kept(FrameSampler(5), times)) - 500) <= 1


def test_slower_source_keeps_every_frame() -> None:
    times = [i / 3 for i in range(30)]
    assert kept(FrameSampler(5), times) == times


def test_time_jumping_back_restarts_schedule() -> None:
    sampler = FrameSampler(5)
    assert len(kept(sampler, [i / 15 for i in range(45)])) == 15
    # A looped file or a reconnect starts again at zero: the first frame is kept at once.
    assert sampler.due(0.0)
    assert len(kept(sampler, [i / 15 for i in range(1, 45)])) == 14


def test_bad_rate() -> None:
    with pytest.raises(ValueError):
        FrameSampler(0)


def test_drop_queue_drops_oldest_and_counts() -> None:
    q: DropQueue[int] = DropQueue(3)
    results = [q.put(i) for i in range(10)]
    assert results == [True] * 3 + [False] * 7
    assert q.stats.dropped == 7 and q.stats.put == 10
    assert [q.get(0), q.get(0), q.get(0)] == [7, 8, 9]
    assert q.get(0) is None


def test_drop_queue_put_never_blocks_with_no_consumer() -> None:
    q: DropQueue[int] = DropQueue(1)
    started = time.monotonic()
    for i in range(10_000):
        q.put(i)
    assert q.stats.dropped == 9_999
    assert time.monotonic() - started < 5  # generous: only guards against a block


def test_close_wakes_a_waiting_consumer() -> None:
    q: DropQueue[int] = DropQueue(2)
    got: list[int | None] = []
    thread = threading.Thread(target=lambda: got.append(q.get(timeout=30)))
    thread.start()
    q.close()
    thread.join(5)
    assert not thread.is_alive() and got == [None]
    assert q.closed
