"""Acceptance: kill -9 mid-stream, and two alerting processes sharing the load."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
import pytest

from compoundeye import bus, names
from compoundeye.events import Event, EventKind
from compoundeye.store import Store
from tests.alerts.helpers import ev, make_site, now_ms
from tests.alerts.processes import group_done, process, start, stop, write_site
from tests.polling import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

TAMPERED = 2000
OFFLINE_CAMERAS = 10
OFFLINE_EACH = 100
FORCED = 100
TOTAL = 10_000


def workload() -> list[Event]:
    """10,000 events: 2,000 tamper alerts, 10 offline alerts of 100 events, 100 forced doors,
    the rest noise."""
    t0 = now_ms()
    events: list[Event] = []
    for i in range(TAMPERED):
        events.append(ev(EventKind.CAMERA_TAMPER, f"t-{i}", t0, reason="covered"))
    for i in range(OFFLINE_CAMERAS * OFFLINE_EACH):
        events.append(ev(EventKind.CAMERA_OFFLINE, f"o-{i % OFFLINE_CAMERAS}", t0, n=i))
    for i in range(FORCED):  # door rules: evaluated by the lease holder only
        events.append(ev(EventKind.DOOR_FORCED, f"door-{i}", t0))
    for i in range(TOTAL - len(events)):
        events.append(ev(EventKind.MOTION_END, f"n-{i % 50}", t0, n=i, zone="street"))
    # interleave so every batch mixes the kinds
    return [events[j] for k in range(10) for j in range(k, len(events), 10)]


def push(client: Any, events: list[Event], pace: float = 0.0) -> None:
    sink = bus.EventSink(client)
    for start_at in range(0, len(events), 250):
        pipe = client.pipeline(transaction=False)
        for event in events[start_at:start_at + 250]:
            sink._script(keys=[names.EVENTS_STREAM, names.seen_key(event.id)],
                         args=[event.to_json(), bus.SEEN_TTL_SECONDS, names.STREAM_MAXLEN,
                               names.EVENT_FIELD], client=pipe)
        pipe.execute()
        if pace:
            time.sleep(pace)


def check_alerts(store: Store) -> None:
    alerts = store.alerts.list(limit=10_000)
    by_rule = Counter(a.rule for a in alerts)
    assert by_rule == {"camera_tamper": TAMPERED, "camera_offline": OFFLINE_CAMERAS,
                       "door_forced": FORCED}
    keys = Counter(a.dedupe_key for a in alerts)
    assert max(keys.values()) == 1  # no cause has two alerts
    assert all(a.count == 1 for a in alerts if a.rule == "camera_tamper")
    assert sorted(a.count for a in alerts if a.rule == "camera_offline") == \
        [OFFLINE_EACH] * OFFLINE_CAMERAS


@pytest.mark.parametrize("restart_as", ["victim", "rescuer"])
def test_kill_9_mid_stream_then_restart_loses_and_duplicates_nothing(
        services, redis_client, tmp_path: Path, restart_as: str):
    """Restarted under the same name it re-reads its own pending entries; under another
    name it claims them (XAUTOCLAIM) once they have been idle for claim_idle_seconds."""
    site_file = write_site(make_site(claim_idle=1.0), tmp_path / "site.yaml")
    db = f"sqlite:///{tmp_path / 'alerts.db'}"
    env = {"CE_REDIS_URL": services.redis_url, "CE_DATABASE_URL": db,
           "CE_DATA_DIR": str(tmp_path)}
    log = tmp_path / "alerts.log"
    store = Store(db)
    events = workload()
    command = ["alerts", "--site", str(site_file), "--consumer", "victim"]
    victim = start(command, env, log)
    try:
        wait_until(lambda: redis_client.exists(names.EVENTS_STREAM), timeout=20)
        producer = threading.Thread(target=push, args=(redis_client, events, 0.02))
        producer.start()
        wait_until(lambda: len(store.alerts.list(limit=200)) >= 100, timeout=60)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=10)
        producer.join(timeout=60)
        assert redis_client.xlen(names.EVENTS_STREAM) == TOTAL
        assert len(store.alerts.list(limit=10_000)) < TAMPERED + OFFLINE_CAMERAS + FORCED, \
            "the kill came too late to test anything"
    finally:
        stop(victim)
    with process(["alerts", "--site", str(site_file), "--consumer", restart_as], env, log):
        wait_until(lambda: group_done(redis_client), timeout=120)
    for group in (names.ALERTS_GROUP, names.DOOR_RULES_GROUP):
        assert redis_client.xpending(names.EVENTS_STREAM, group)["pending"] == 0
    check_alerts(store)
    store.close()


@pytest.fixture
def pg_url(postgres_url: str) -> Any:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    yield f"{postgres_url}?options={quote(f'-csearch_path={schema}')}"
    with psycopg.connect(plain, autocommit=True) as conn:
        # A connection a failed test left open must not hang teardown: give up on the
        # drop after a while (the session's database is dropped WITH (FORCE) at the end).
        conn.execute("SET lock_timeout = '10s'")
        with contextlib.suppress(psycopg.errors.LockNotAvailable):
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_two_processes_share_the_load_without_duplicates(services, redis_client, pg_url,
                                                         tmp_path: Path):
    site_file = write_site(make_site(), tmp_path / "site.yaml")
    env = {"CE_REDIS_URL": services.redis_url, "CE_DATABASE_URL": pg_url,
           "CE_DATA_DIR": str(tmp_path)}
    log = tmp_path / "alerts.log"
    store = Store(pg_url)
    assert store.dialect == "postgresql"
    with process(["alerts", "--site", str(site_file), "--consumer", "one"], env, log), \
            process(["alerts", "--site", str(site_file), "--consumer", "two"], env, log):
        wait_until(lambda: redis_client.exists(names.EVENTS_STREAM), timeout=20)
        wait_until(lambda: len(redis_client.xinfo_consumers(names.EVENTS_STREAM,
                                                            names.ALERTS_GROUP)) == 2,
                   timeout=20)
        push(redis_client, workload(), pace=0.01)
        wait_until(lambda: group_done(redis_client), timeout=120)
        consumers = redis_client.xinfo_consumers(names.EVENTS_STREAM, names.ALERTS_GROUP)
    check_alerts(store)
    with store.reading() as conn:
        processed = conn.exec_driver_sql("SELECT count(*) FROM processed_events").scalar()
    assert processed == TAMPERED + OFFLINE_CAMERAS * OFFLINE_EACH + FORCED
    assert len(consumers) == 2
    store.close()
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    handled = [int(m) for m in re.findall(r"alerting service stopped: \{'events': (\d+)", text)]
    assert len(handled) == 2 and all(n > 0 for n in handled), handled
    assert sum(handled) >= TOTAL
