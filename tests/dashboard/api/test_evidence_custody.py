"""Legal holds, honest empty exports, verification and the custody report through the API."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from compoundeye.store import Store, schema
from tests.dashboard.conftest import bearer
from tests.evidence.conftest import record_segments

pytestmark = pytest.mark.timeout(240)
T0 = datetime(2026, 11, 3, 21, 40, 0, tzinfo=UTC)


def _iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


@pytest.fixture
def recorded(client: TestClient, tmp_path: Path) -> Path:
    """40 s of cam-A1 and 20 s of cam-B1 from T0."""
    root = client.app.state.ce.settings.recordings_dir  # type: ignore[attr-defined]
    record_segments(root, "cam-A1", T0, 40, tmp_path / "work")
    record_segments(root, "cam-B1", T0, 20, tmp_path / "work")
    return Path(root)


def _wait(client: TestClient, export_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status: dict[str, Any] = client.get(f"/api/exports/{export_id}", headers=headers).json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.2)
    raise AssertionError("export did not finish")


def test_holds_roles_and_audit(client: TestClient, store: Store,
                               tokens: dict[str, str]) -> None:
    body = {"camera_ids": ["cam-A1", "cam-B1"], "start": _iso(0), "end": _iso(600),
            "case_id": "CASE/7", "reason": "burglary"}
    for role in ("operator", "ops"):
        assert client.post("/api/holds", json=body, headers=bearer(tokens[role])).status_code == 403
    placed = client.post("/api/holds", json=body, headers=bearer(tokens["investigator"]))
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert hold["active"] and hold["placed_by"] == "investigator-1"
    assert hold["camera_ids"] == ["cam-A1", "cam-B1"]
    listed = client.get("/api/holds", params={"case_id": "CASE/7"},
                        headers=bearer(tokens["investigator"])).json()
    assert [h["id"] for h in listed] == [hold["id"]]
    release = f"/api/holds/{hold['id']}/release"
    refused = client.post(release, json={"reason": "mine"}, headers=bearer(tokens["investigator"]))
    assert refused.status_code == 403
    assert client.get(f"/api/holds/{hold['id']}",
                      headers=bearer(tokens["investigator"])).json()["active"]
    done = client.post(release, json={"reason": "case closed"}, headers=bearer(tokens["admin"]))
    assert done.status_code == 200 and not done.json()["active"]
    again = client.post(release, json={"reason": "again"}, headers=bearer(tokens["admin"]))
    assert again.status_code == 409
    rows = {(e.action, e.actor) for e in store.audit.list(target=hold["id"])}
    assert rows == {("hold.place", "investigator-1"), ("hold.release", "admin-1")}
    bad = [{**body, "camera_ids": ["cam-nope"]}, {**body, "end": body["start"]},
           {**body, "case_id": "a\nb"}, {**body, "camera_ids": []}]
    for wrong in bad:
        response = client.post("/api/holds", json=wrong, headers=bearer(tokens["investigator"]))
        assert response.status_code in (400, 422), (wrong, response.text)
    assert client.get("/api/holds/nothex", headers=bearer(tokens["admin"])).status_code == 422


def test_nothing_recorded_is_refused_and_gaps_come_first(client: TestClient,
                                                         tokens: dict[str, str],
                                                         recorded: Path) -> None:
    inv = bearer(tokens["investigator"])
    future = datetime.now(UTC) + timedelta(days=1)
    empty = client.post("/api/exports", headers=inv, json={
        "camera_ids": ["cam-A1"], "start": future.isoformat(),
        "end": (future + timedelta(minutes=5)).isoformat(), "case_id": "C-F", "reason": "r"})
    assert empty.status_code == 422
    assert "nothing was recorded" in empty.json()["detail"]
    assert "future" in empty.json()["detail"]
    none_here = client.post("/api/exports", headers=inv, json={
        "camera_ids": ["cam-B2"], "start": _iso(0), "end": _iso(20), "case_id": "C-N",
        "reason": "r"})
    assert none_here.status_code == 422 and "cam-B2" in none_here.json()["detail"]
    partly = client.post("/api/exports", headers=inv, json={
        "camera_ids": ["cam-A1", "cam-B1", "cam-B2"], "start": _iso(0), "end": _iso(40),
        "case_id": "C-P", "reason": "r"})
    assert partly.status_code == 202, partly.text
    plan = {c["camera_id"]: c for c in partly.json()["coverage"]}  # before any waiting
    assert plan["cam-A1"]["coverage"] == 1.0 and plan["cam-A1"]["gaps"] == []
    assert plan["cam-B1"]["coverage"] == 0.5
    assert [(g["start"][11:19], g["end"][11:19]) for g in plan["cam-B1"]["gaps"]] == [
        ("21:40:20", "21:40:40")]
    assert plan["cam-B2"]["segments"] == 0 and plan["cam-B2"]["coverage"] == 0.0
    assert _wait(client, partly.json()["id"], inv)["state"] == "done"


def test_custody_report_lists_every_view_with_hashes(client: TestClient, store: Store,
                                                     tokens: dict[str, str],
                                                     recorded: Path) -> None:
    inv, admin = bearer(tokens["investigator"]), bearer(tokens["admin"])
    case = "HK-2026-0412"
    # Before the export: a search that found cam-A1, a clip view, a playback session
    # opened and closed through the playback routes, and an unrelated search elsewhere.
    assert client.get("/api/recordings/search", headers=inv, params={
        "start": _iso(0), "end": _iso(60), "building": "BA"}).status_code == 200
    assert client.get("/api/recordings/clip", headers=inv, params={
        "camera": "cam-A1", "start": _iso(5), "end": _iso(15)}).status_code == 200
    session = client.post("/api/playback/sessions", headers=inv, json={
        "cameras": ["cam-A1"], "start": _iso(0), "end": _iso(30), "at": _iso(5)})
    assert session.status_code == 201, session.text
    assert client.post(f"/api/playback/sessions/{session.json()['id']}/close",
                       headers=inv).status_code == 200
    client.get("/api/recordings/search", headers=inv, params={
        "start": _iso(3600), "end": _iso(7200), "building": "BA"})
    started = client.post("/api/exports", headers=inv, json={
        "camera_ids": ["cam-A1"], "start": _iso(2), "end": _iso(22), "case_id": case,
        "reason": "forced door"})
    assert started.status_code == 202, started.text
    export_id = started.json()["id"]
    status = _wait(client, export_id, inv)
    assert status["state"] == "done"
    assert client.get(status["download_url"], headers=inv).status_code == 200
    verified = client.post(f"/api/exports/{export_id}/verify", headers=inv)
    assert verified.status_code == 200 and verified.json()["ok"], verified.text
    assert verified.json()["signature"]["status"] == "valid"
    assert verified.json()["signature"]["site_key"] is True
    hold = client.post("/api/holds", headers=inv, json={
        "camera_ids": ["cam-A1"], "start": _iso(0), "end": _iso(40), "case_id": case,
        "reason": "court"}).json()

    report = client.get("/api/custody", params={"case_id": case}, headers=inv)
    assert report.status_code == 200, report.text
    body = report.json()
    kinds = [e["kind"] for e in body["events"]]
    assert kinds == ["search", "clip view", "playback", "playback", "export", "export",
                     "download", "verify", "legal hold"], kinds
    by_action = {e["action"]: e for e in body["events"]}
    manifest_sha = status["manifest_sha256"]
    assert by_action["export.done"]["hashes"]["manifest_sha256"] == manifest_sha
    assert by_action["export.download"]["hashes"]["sha256"] == status["download_sha256"]
    assert len(by_action["recordings.clip"]["hashes"]["clip_sha256"]) == 64
    assert by_action["export.verify"]["hashes"]["manifest_sha256"] == manifest_sha
    assert by_action["playback.start"]["ip"] == "127.0.0.1"
    assert by_action["playback.end"]["cameras"] == ["cam-A1"]
    assert all(e["actor"] and e["at"] and e["row_hash"] for e in body["events"])
    assert "in the case's window" in by_action["recordings.search"]["why"]
    assert body["exports"][0]["manifest_sha256"] == manifest_sha
    assert body["exports"][0]["signing_key_id"] == status["manifest"]["signing"]["key_id"]
    assert [h["id"] for h in body["holds"]] == [hold["id"]]
    assert body["audit_chain"]["ok"] and body["audit_chain"]["head_hash"]
    assert body["cameras"] == ["cam-A1"]

    page = client.get("/api/custody/report", params={"case_id": case}, headers=inv)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert case in page.text and manifest_sha in page.text and "<script" not in page.text
    again = client.get("/api/custody", params={"case_id": case}, headers=inv).json()
    assert [e["kind"] for e in again["events"]][-2:] == ["custody report", "custody report"]
    assert client.get("/api/custody", params={"case_id": "no-such-case"},
                      headers=inv).status_code == 404
    audit = client.get("/api/audit/verify", headers=admin).json()
    assert audit["ok"] and audit["rows"] >= 10


@pytest.mark.slow
def test_custody_report_prints_to_pdf(client: TestClient, store: Store,
                                      tokens: dict[str, str]) -> None:
    store.holds.place(case_id="PDF-1", reason="r", camera_ids=["cam-A1"], start=T0,
                      end=T0 + timedelta(minutes=1), actor="investigator-1",
                      role="investigator")
    pdf = client.get("/api/custody/report", params={"case_id": "PDF-1", "format": "pdf"},
                     headers=bearer(tokens["investigator"]))
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF-") and len(pdf.content) > 2000


def test_signing_keys_and_an_edited_audit_row(client: TestClient, store: Store,
                                              tokens: dict[str, str]) -> None:
    keys = client.get("/api/signing-keys", headers=bearer(tokens["investigator"])).json()
    (current,) = keys["keys"]
    assert current["current"] and current["key_id"] == keys["current"]
    assert len(current["fingerprint"]) == 64 and current["fingerprint_grouped"].count(" ") == 15
    admin = bearer(tokens["admin"])
    for _ in range(3):
        client.get("/api/audit", headers=admin)
    store.audit.record("x", "admin", "probe", "t")
    (row,) = store.audit.list(action="probe")
    with store.transaction() as conn:
        conn.execute(schema.audit.update().where(schema.audit.c.id == row.id)
                     .values(target="edited"))
    report = client.get("/api/audit/verify", headers=admin).json()
    assert not report["ok"] and report["broken_id"] == row.id
