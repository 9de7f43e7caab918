from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.dedupe import Open, Resolve, coalesce, coalesced_event_ids, dedupe_key
from compoundeye.store import NewAlert

T0 = datetime(2026, 11, 28, tzinfo=UTC)


def op(key: str, event: str, at: float, cooldown: float | None = None) -> Open:
    return Open(NewAlert(rule="r", priority=1, source_type="camera", source_id="c",
                         title="t", dedupe_key=key, event_at=T0 + timedelta(seconds=at),
                         event_ids=[event], cameras=["c"],
                         cooldown=None if cooldown is None else timedelta(seconds=cooldown)),
                event)


def test_opens_of_one_key_fold_into_one_keeping_every_event():
    out = coalesce([op("a", "1", 0), op("b", "2", 1), op("a", "3", 2), op("a", "4", 3)])
    assert [i.key for i in out] == ["a", "b"]
    assert coalesced_event_ids(out[0]) == ["1", "3", "4"]
    first = out[0]
    assert isinstance(first, Open)
    assert first.alert.event_at == T0 + timedelta(seconds=3)
    assert first.alert.first_event_at == T0


def test_resolve_splits_and_cooldown_splits():
    res = Resolve("a", "r", T0, "camera.online")
    out = coalesce([op("a", "1", 0), res, op("a", "2", 5)])
    assert [type(i).__name__ for i in out] == ["Open", "Resolve", "Open"]
    out = coalesce([op("m", "1", 0, 10), op("m", "2", 5, 10), op("m", "3", 100, 10)])
    assert [coalesced_event_ids(i) for i in out] == [["1", "2"], ["3"]]


def test_input_is_not_modified_and_keys_are_readable():
    first = op("a", "1", 0)
    coalesce([first, op("a", "2", 1)])
    assert first.alert.event_ids == ["1"]
    assert dedupe_key("motion_armed", "camera", "c1", "lobby") == "motion_armed:camera:c1:lobby"
