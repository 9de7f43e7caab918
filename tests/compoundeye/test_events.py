"""The event model: the JSON shape of DESIGN.md, UTC milliseconds, stable ids."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from compoundeye.events import Event, EventKind, Source, make_event, stable_event_id

TS = datetime(2026, 11, 3, 21, 40, 5, 123_456, tzinfo=UTC)
RFC3339_MS_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def test_json_shape_is_exactly_the_contract() -> None:
    event = make_event(EventKind.DOOR_DENIED, "door", "B001-door1", TS, {"reason": "expired"})
    document = json.loads(event.to_json())
    assert list(document) == ["id", "ts", "kind", "source", "attrs"]
    assert document["ts"] == "2026-11-03T21:40:05.123Z"
    assert RFC3339_MS_Z.match(document["ts"])
    assert document["kind"] == "door.denied"
    assert document["source"] == {"type": "door", "id": "B001-door1"}
    assert document["attrs"] == {"reason": "expired"}
    assert isinstance(document["id"], str)
    assert document["id"]
    assert " " not in event.to_json()  # compact: one stream field per event


def test_round_trip_keeps_every_field() -> None:
    event = make_event(EventKind.CAMERA_TAMPER, "camera", "B001-ent1", TS,
                       {"reason": "covered", "score": 0.93, "zones": ["door"]})
    again = Event.from_json(event.to_json())
    assert again.id == event.id
    assert again.kind is EventKind.CAMERA_TAMPER
    assert again.source == Source(type="camera", id="B001-ent1")
    assert again.attrs == event.attrs
    # Milliseconds survive; finer precision is not part of the contract.
    assert again.ts == TS.replace(microsecond=123_000)
    assert again.ts.tzinfo is not None
    assert Event.from_json(again.to_json()) == again
    assert Event.from_json(event.to_json().encode()) == again


def test_other_offsets_are_converted_to_utc_z() -> None:
    singapore = timezone(timedelta(hours=8))
    event = make_event(EventKind.MOTION_START, "camera", "c1",
                       datetime(2026, 11, 4, 5, 40, 5, tzinfo=singapore))
    assert json.loads(event.to_json())["ts"] == "2026-11-03T21:40:05.000Z"
    parsed = Event.from_json(
        '{"id":"x","ts":"2026-11-04T05:40:05.250+08:00","kind":"motion.end",'
        '"source":{"type":"camera","id":"c1"},"attrs":{}}')
    assert parsed.ts == datetime(2026, 11, 3, 21, 40, 5, 250_000, tzinfo=UTC)


def test_naive_datetimes_are_refused() -> None:
    naive = datetime(2026, 11, 3, 21, 40, 5)
    with pytest.raises(ValueError, match=r"naive|timezone-aware"):
        make_event(EventKind.DOOR_OPENED, "door", "d1", naive)
    with pytest.raises(ValidationError, match="timezone-aware"):
        Event(id="x", ts=naive, kind=EventKind.DOOR_OPENED, source=Source(type="door", id="d1"))
    with pytest.raises(ValidationError):
        Event.from_json('{"id":"x","ts":"2026-11-03T21:40:05","kind":"door.opened",'
                        '"source":{"type":"door","id":"d1"},"attrs":{}}')


@pytest.mark.parametrize("document", [
    '{"id":"x","ts":"2026-11-03T21:40:05Z","kind":"door.exploded",'
    '"source":{"type":"door","id":"d1"},"attrs":{}}',
    '{"id":"x","ts":"2026-11-03T21:40:05Z","kind":"door.opened",'
    '"source":{"type":"lift","id":"d1"},"attrs":{}}',
    '{"id":"x","ts":"2026-11-03T21:40:05Z","kind":"door.opened",'
    '"source":{"type":"door","id":"d1"},"attrs":{},"extra":1}',
    '{"id":"","ts":"2026-11-03T21:40:05Z","kind":"door.opened",'
    '"source":{"type":"door","id":"d1"},"attrs":{}}',
    '{"ts":"2026-11-03T21:40:05Z","kind":"door.opened","source":{"type":"door","id":"d1"}}',
    'not json at all',
])
def test_bad_documents_are_refused(document: str) -> None:
    with pytest.raises(ValidationError):
        Event.from_json(document)


def test_ids_are_stable_and_distinguish_occurrences() -> None:
    first = make_event(EventKind.DOOR_FORCED, "door", "d1", TS, id_parts=(17,))
    again = make_event(EventKind.DOOR_FORCED, "door", "d1", TS, {"note": "redelivered"},
                       id_parts=(17,))
    assert first.id == again.id  # attrs do not change who the occurrence is
    others = {
        make_event(EventKind.DOOR_FORCED, "door", "d1", TS, id_parts=(18,)).id,
        make_event(EventKind.DOOR_FORCED, "door", "d2", TS, id_parts=(17,)).id,
        make_event(EventKind.DOOR_HELD, "door", "d1", TS, id_parts=(17,)).id,
        make_event(EventKind.DOOR_FORCED, "door", "d1", TS + timedelta(milliseconds=1),
                   id_parts=(17,)).id,
        make_event(EventKind.DOOR_FORCED, "camera", "d1", TS, id_parts=(17,)).id,
    }
    assert first.id not in others
    assert len(others) == 5
    assert stable_event_id("a", 1) == stable_event_id("a", 1)
    assert stable_event_id("a", 1) != stable_event_id("a1")
    assert re.fullmatch(r"[0-9a-f]{24}", first.id)


def test_every_design_kind_exists() -> None:
    design = {"motion.start", "motion.end", "camera.tamper", "camera.offline", "camera.online",
              "door.granted", "door.denied", "door.opened", "door.closed", "door.forced",
              "door.held", "door.tamper", "activity.anomaly"}
    assert design <= {k.value for k in EventKind}
