from __future__ import annotations

import time

from alerts.consumer import GroupConsumer
from compoundeye import names


def test_group_read_claim_and_ack(redis_client):
    a = GroupConsumer(redis_client, names.EVENTS_STREAM, names.ALERTS_GROUP, "a", count=10)
    b = GroupConsumer(redis_client, names.EVENTS_STREAM, names.ALERTS_GROUP, "b", count=10)
    a.ensure_group()
    a.ensure_group()  # idempotent
    ids = [redis_client.xadd(names.EVENTS_STREAM, {"e": str(i)}).decode() for i in range(5)]
    got = a.read_new(block_ms=100)
    assert [e.id for e in got] == ids and got[0].fields == {b"e": b"0"}
    assert a.pending_count() == 5
    a.ack(ids[:2])
    # a dies; b claims what a left once it has been idle long enough
    assert b.claim_stale(min_idle_ms=60_000) == ([], [])
    time.sleep(0.05)
    claimed, deleted = b.claim_stale(min_idle_ms=10)
    assert [e.id for e in claimed] == ids[2:] and deleted == []
    assert all(e.deliveries == 2 for e in claimed)
    # the same name after a restart sees its own pending entries again
    again = GroupConsumer(redis_client, names.EVENTS_STREAM, names.ALERTS_GROUP, "b")
    assert [e.id for e in again.read_own_pending()] == ids[2:]
    assert again.ack(ids[2:]) == 3 and a.pending_count() == 0
    assert b.read_new(block_ms=10) == []


def test_claim_reports_trimmed_entries(redis_client):
    c = GroupConsumer(redis_client, names.EVENTS_STREAM, names.ALERTS_GROUP, "c")
    c.ensure_group()
    entry = redis_client.xadd(names.EVENTS_STREAM, {"e": "x"}).decode()
    c.read_new(block_ms=10)
    redis_client.xdel(names.EVENTS_STREAM, entry)
    time.sleep(0.02)
    claimed, deleted = c.claim_stale(min_idle_ms=1)
    assert claimed == [] and deleted == [entry]


def test_idle_consumers_without_pending_entries_are_forgotten(redis_client):
    a = GroupConsumer(redis_client, names.EVENTS_STREAM, names.ALERTS_GROUP, "a")
    b = GroupConsumer(redis_client, names.EVENTS_STREAM, names.ALERTS_GROUP, "b")
    a.ensure_group()
    redis_client.xadd(names.EVENTS_STREAM, {"e": "1"})
    b.read_new(block_ms=10)  # b holds one pending entry
    a.read_new(block_ms=10)
    redis_client.xgroup_createconsumer(names.EVENTS_STREAM, names.ALERTS_GROUP, "old")
    time.sleep(0.05)
    assert a.forget_idle_consumers(idle_ms=10) == ["old"]
    names_left = {c["name"] for c in redis_client.xinfo_consumers(names.EVENTS_STREAM,
                                                                    names.ALERTS_GROUP)}
    assert b"b" in names_left and b"old" not in names_left
