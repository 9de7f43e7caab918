"""The publish path's cost of waiting for a replica (``WAIT``), for ``bench bus``.

On a private primary, replica and three Sentinels (:class:`SentinelSet`), the project's
publishers through the Sentinel client, once without ``WAIT`` (``CE_REDIS_WAIT_REPLICAS=0``)
and once with it (1, the default with Sentinel), alternating so both see the same machine:

- the edge worker's :class:`BufferedPublisher`: N events queued at once, events/s until
  the last is on the stream (the delivery thread batches; each round trip ends in WAIT);
- the door listener's :class:`EventSink`: events one at a time (the listener waits for
  each before acknowledging its MQTT message), milliseconds per event, p50 and p99.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from compoundeye import names
from compoundeye.bus import BufferedPublisher, EventSink
from compoundeye.events import Event, EventKind, make_event
from compoundeye.redis_client import redis_from_settings
from compoundeye.replication import ReplicaWait
from compoundeye.sentinel_set import SentinelSet
from compoundeye.settings import Settings
from compoundeye.timeutil import utcnow


def _events(tag: str, count: int) -> list[Event]:
    now = utcnow()
    return [make_event(EventKind.DOOR_GRANTED, "door", f"door-{i % 383}", now,
                       {"credential": "bench"}, id_parts=(tag, i)) for i in range(count)]


def _buffered_rate(settings: Settings, wait: ReplicaWait, events: list[Event]) -> float:
    client = redis_from_settings(settings)
    publisher = BufferedPublisher(client, wait=wait, limit=len(events) + 1)
    start = time.perf_counter()
    for event in events:
        publisher.publish(event)
    thread = threading.Thread(target=publisher.run, name="bench-publisher", daemon=True)
    thread.start()
    done = threading.Event()
    while publisher.stats.published + publisher.stats.duplicates < len(events):
        done.wait(0.002)
    elapsed = time.perf_counter() - start
    publisher.stop()
    thread.join(timeout=10)
    client.close()
    return len(events) / elapsed


def _sink_latencies(settings: Settings, wait: ReplicaWait, events: list[Event]) -> list[float]:
    client = redis_from_settings(settings)
    sink = EventSink(client, wait=wait)
    out: list[float] = []
    for event in events:
        start = time.perf_counter()
        sink.add(event)
        out.append((time.perf_counter() - start) * 1000)
    client.close()
    return out


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure_publish(quick: bool) -> dict[str, Any]:
    """Publish figures without and with WAIT; ``wait_cost_ratio`` is with over without."""
    count = 5_000 if quick else 20_000
    singles = 500 if quick else 2_000
    rounds = 2
    rates: dict[int, list[float]] = {0: [], 1: []}
    lat: dict[int, list[float]] = {0: [], 1: []}
    with SentinelSet(master_name="ce-bench") as sentinels:
        settings = sentinels.settings()
        for r in range(rounds):
            for replicas in (0, 1):
                wait = ReplicaWait(replicas, settings.redis_wait_timeout_ms)
                tag = f"{r}-{replicas}"
                rates[replicas].append(_buffered_rate(settings, wait, _events(tag, count)))
                lat[replicas] += _sink_latencies(settings, wait, _events(f"s{tag}", singles))
        client = sentinels.node_client(sentinels.primary().port)
        on_stream = int(client.xlen(names.EVENTS_STREAM))
        client.close()
    best = {k: max(v) for k, v in rates.items()}
    return {
        "publish_events": count, "publish_rounds": rounds, "publish_on_stream": on_stream,
        "publish_events_per_s_no_wait": round(best[0], 1),
        "publish_events_per_s_wait": round(best[1], 1),
        "publish_wait_rate_ratio": round(best[1] / best[0], 3),
        "sink_add_ms_no_wait_p50": round(_pct(lat[0], 0.5), 3),
        "sink_add_ms_no_wait_p99": round(_pct(lat[0], 0.99), 3),
        "sink_add_ms_wait_p50": round(_pct(lat[1], 0.5), 3),
        "sink_add_ms_wait_p99": round(_pct(lat[1], 0.99), 3),
    }
