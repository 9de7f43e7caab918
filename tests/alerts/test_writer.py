"""The batch writer: idempotent per event, and one event may back several changes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.dedupe import Open, Resolve
from alerts.writer import apply_intents
from compoundeye.store import Store
from compoundeye.store.models import NewAlert
from compoundeye.timeutil import utcnow


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'alerts.db'}")
    yield store
    store.close()


def _door_alert(rule: str, event_id: str) -> Open:
    return Open(NewAlert(rule=rule, priority=1, source_type="door", source_id="d7",
                         title=rule, dedupe_key=f"{rule}:d7", event_at=utcnow(),
                         event_ids=[event_id]), event_id)


def test_one_close_resolves_a_forced_and_a_held_alert_once(store: Store) -> None:
    opened = apply_intents(store, [_door_alert("door_forced", "e-forced"),
                                   _door_alert("door_held", "e-held")])
    assert [c.action for c in opened] == ["created", "created"]
    close = [Resolve(key=f"{rule}:d7", event_id="e-closed", at=utcnow(), cause="door closed")
             for rule in ("door_forced", "door_held")]
    resolved = apply_intents(store, close)
    assert sorted(c.alert.rule for c in resolved) == ["door_forced", "door_held"]
    assert all(not c.alert.open for c in resolved)
    assert apply_intents(store, close) == []  # the same event redelivered: nothing twice
