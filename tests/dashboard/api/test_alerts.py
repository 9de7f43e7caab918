"""Alert listing, lifecycle with who and when, audit, and hostile input."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from fastapi.testclient import TestClient

from compoundeye import names
from compoundeye.store import Store
from tests.dashboard.conftest import bearer, open_alert


def test_list_newest_first_with_filters_and_stream_position(
        client: TestClient, store: Store, tokens: dict[str, str]) -> None:
    now = datetime.now(UTC)
    old = open_alert(store, source="door-A", building="BA", at=now - timedelta(minutes=5))
    new = open_alert(store, source="door-B", building="BB", rule="door_held", priority=2,
                     at=now)
    op = bearer(tokens["operator"])
    response = client.get("/api/alerts", headers=op)
    assert response.status_code == 200
    assert [a["id"] for a in response.json()] == [new, old]
    assert response.headers["X-Stream-Id"] != "0-0"  # the creations were published
    only_b = client.get("/api/alerts", params={"building": "BB"}, headers=op).json()
    assert [a["id"] for a in only_b] == [new]
    forced = client.get("/api/alerts", params={"kind": "door_forced"}, headers=op).json()
    assert [a["id"] for a in forced] == [old]
    door = client.get("/api/alerts", params={"door": "door-A"}, headers=op).json()
    assert [a["id"] for a in door] == [old]
    limited = client.get("/api/alerts", params={"limit": 1}, headers=op).json()
    assert len(limited) == 1
    assert client.post(f"/api/alerts/{old}/resolve", headers=op).status_code == 200
    still_open = client.get("/api/alerts", params={"status": "open"}, headers=op).json()
    assert [x["id"] for x in still_open] == [new]
    resolved = client.get("/api/alerts", params={"status": "resolved"}, headers=op).json()
    assert [x["id"] for x in resolved] == [old]


def test_assign_defaults_to_the_caller(client: TestClient, store: Store,
                                       tokens: dict[str, str]) -> None:
    alert_id = open_alert(store)
    taken = client.post(f"/api/alerts/{alert_id}/assign", headers=bearer(tokens["admin"]))
    assert taken.status_code == 200 and taken.json()["assignee"] == "admin-1"


def test_lifecycle_records_who_and_when_and_audits(
        client: TestClient, store: Store, tokens: dict[str, str],
        redis_client: redis.Redis) -> None:
    alert_id = open_alert(store)
    op = bearer(tokens["operator"])
    acked = client.post(f"/api/alerts/{alert_id}/ack", json={"note": "on it"}, headers=op)
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged"
    assigned = client.post(f"/api/alerts/{alert_id}/assign", json={"assignee": "guard-7"},
                           headers=op)
    assert assigned.json()["assignee"] == "guard-7"
    noted = client.post(f"/api/alerts/{alert_id}/notes", json={"note": "door shut again"},
                        headers=op)
    assert noted.status_code == 200
    resolved = client.post(f"/api/alerts/{alert_id}/resolve", headers=op)
    assert resolved.json()["status"] == "resolved"

    detail = client.get(f"/api/alerts/{alert_id}", headers=op).json()
    actions = [(h["action"], h["actor"]) for h in detail["history"]]
    assert actions[0] == ("created", "alerts")
    assert ("acknowledged", "operator-1") in actions
    assert ("assigned", "operator-1") in actions
    assert ("resolved", "operator-1") in actions
    assert all(h["at"] for h in detail["history"])
    assert [n["text"] for n in detail["notes"]] == ["door shut again"]

    audit = client.get("/api/audit", params={"target": alert_id},
                       headers=bearer(tokens["admin"])).json()
    assert {e["action"] for e in audit} == {"alert.ack", "alert.assign", "alert.note",
                                            "alert.resolve"}
    assert {e["actor"] for e in audit} == {"operator-1"}

    # Each change went to ce:alerts for the live screens.
    entries: Any = redis_client.xrange(names.ALERTS_STREAM)
    changes = [json.loads(fields[names.ALERT_FIELD.encode()]) for _, fields in entries]
    assert [c["action"] for c in changes if c["alert"]["id"] == alert_id] == [
        "created", "acknowledged", "assigned", "note", "resolved"]


def test_invalid_transitions_and_unknown_ids(client: TestClient, store: Store,
                                             tokens: dict[str, str]) -> None:
    alert_id = open_alert(store)
    op = bearer(tokens["operator"])
    assert client.post(f"/api/alerts/{alert_id}/resolve", headers=op).status_code == 200
    again = client.post(f"/api/alerts/{alert_id}/ack", headers=op)
    assert again.status_code == 409 and "resolved" in again.json()["detail"]
    assert client.get("/api/alerts/nope", headers=op).status_code == 404
    assert client.post("/api/alerts/nope/ack", headers=op).status_code == 404
    assert client.get("/api/alerts/..%2F..%2Fetc", headers=op).status_code in (404, 422)


def test_hostile_input_gets_4xx_with_a_reason(client: TestClient, store: Store,
                                              tokens: dict[str, str]) -> None:
    op = bearer(tokens["operator"])
    alert_id = open_alert(store)
    cases = [
        ("GET", "/api/alerts?limit=0", None),
        ("GET", "/api/alerts?limit=100000", None),
        ("GET", "/api/alerts?since=yesterday", None),
        ("GET", "/api/alerts?since=2026-01-01T00:00:00", None),  # naive
        ("GET", "/api/alerts?since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z", None),
        ("GET", "/api/alerts?status=burning", None),
        ("GET", "/api/alerts?camera=../../x", None),
        ("POST", f"/api/alerts/{alert_id}/notes", {"note": ""}),
        ("POST", f"/api/alerts/{alert_id}/notes", {"note": "x" * 5000}),
        ("POST", f"/api/alerts/{alert_id}/ack", {"note": 5, "extra": True}),
        ("POST", f"/api/alerts/{alert_id}/assign", {"assignee": ""}),
    ]
    for method, path, body in cases:
        response = client.request(method, path, json=body, headers=op)
        assert 400 <= response.status_code < 500, (path, response.status_code)
        assert response.json()["detail"], path
    bad_json = client.post(f"/api/alerts/{alert_id}/ack", content=b"{not json",
                           headers={**op, "Content-Type": "application/json"})
    assert bad_json.status_code == 422


def test_snapshot_is_served_from_the_snapshot_dir_only(client: TestClient, store: Store,
                                                       tokens: dict[str, str]) -> None:
    state = client.app.state.ce  # type: ignore[attr-defined]
    snapshots = state.settings.snapshots_dir
    (snapshots / "cam-A1").mkdir(parents=True)
    (snapshots / "cam-A1" / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0jpeg")
    secret = state.settings.data_dir / "secret.txt"
    secret.write_text("no")
    from compoundeye.store import NewAlert
    now = datetime.now(UTC)

    def with_snapshot(path: str) -> str:
        return store.alerts.create(NewAlert(
            rule="camera_tamper", priority=2, source_type="camera", source_id="cam-A1",
            title="tamper", dedupe_key=f"snap:{path}", event_at=now, snapshot=path)).id

    op = bearer(tokens["operator"])
    good = client.get(f"/api/alerts/{with_snapshot('cam-A1/a.jpg')}/snapshot", headers=op)
    assert good.status_code == 200 and good.content.startswith(b"\xff\xd8")
    for hostile in ["../secret.txt", str(secret), "/etc/passwd", "cam-A1/../../secret.txt"]:
        response = client.get(f"/api/alerts/{with_snapshot(hostile)}/snapshot", headers=op)
        assert response.status_code == 404, hostile
