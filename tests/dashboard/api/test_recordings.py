"""Clips (remux to MP4, cache, HTTP Range), coverage search and exports through the API."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from compoundeye.store import NewAlert, Store
from tests.dashboard.conftest import bearer
from tests.evidence.conftest import record_segments

pytestmark = pytest.mark.timeout(180)
T0 = datetime(2026, 11, 3, 21, 40, 0, tzinfo=UTC)


@pytest.fixture
def recorded(client: TestClient, tmp_path: Path) -> Path:
    """40 s of cam-A1 from T0 and 20 s of cam-B1 from T0 + 20 s, in the app's data dir."""
    root = client.app.state.ce.settings.recordings_dir  # type: ignore[attr-defined]
    record_segments(root, "cam-A1", T0, 40, tmp_path / "work")
    record_segments(root, "cam-B1", T0 + timedelta(seconds=20), 20, tmp_path / "work")
    return Path(root)


def _duration(data: bytes, tmp_path: Path) -> float:
    path = tmp_path / "probe.mp4"
    path.write_bytes(data)
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                          "-of", "csv=p=0", str(path)], capture_output=True, check=True)
    return float(out.stdout)


def test_alert_clip_is_mp4_with_range_and_cached(client: TestClient, store: Store,
                                                 tokens: dict[str, str], recorded: Path,
                                                 tmp_path: Path) -> None:
    alert = store.alerts.create(NewAlert(
        rule="door_forced", priority=1, source_type="door", source_id="door-A",
        title="forced", dedupe_key="clip", event_at=T0 + timedelta(seconds=15),
        cameras=["cam-A1"], clip_start=T0 + timedelta(seconds=5),
        clip_end=T0 + timedelta(seconds=25)))
    op = bearer(tokens["operator"])
    whole = client.get(f"/api/alerts/{alert.id}/clip", headers=op)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert whole.content[4:8] == b"ftyp"
    assert 19.0 <= _duration(whole.content, tmp_path) <= 26.0  # keyframe start: up to 1 s early
    part = client.get(f"/api/alerts/{alert.id}/clip", headers={**op, "Range": "bytes=0-99"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 0-99/{len(whole.content)}"
    assert part.content == whole.content[:100]
    metrics = client.get("/metrics").text
    assert 'ce_dashboard_clip_cache_total{outcome="hit"} 1' in metrics
    assert 'ce_dashboard_clip_cache_total{outcome="miss"} 1' in metrics
    cache = client.app.state.ce.settings.data_dir / "cache" / "clips"  # type: ignore[attr-defined]
    assert len(list(cache.glob("*.mp4"))) == 1
    other = client.get(f"/api/alerts/{alert.id}/clip", params={"camera": "cam-B2"}, headers=op)
    assert other.status_code == 404


def test_investigator_clip_and_missing_recordings(client: TestClient, tokens: dict[str, str],
                                                  recorded: Path) -> None:
    inv = bearer(tokens["investigator"])
    params = {"camera": "cam-B1", "start": (T0 + timedelta(seconds=20)).isoformat(),
              "end": (T0 + timedelta(seconds=30)).isoformat()}
    assert client.get("/api/recordings/clip", params=params, headers=inv).status_code == 200
    params["camera"] = "cam-B2"
    missing = client.get("/api/recordings/clip", params=params, headers=inv)
    assert missing.status_code == 404 and "no recording" in missing.json()["detail"]
    params.update(camera="cam-B1", end=(T0 + timedelta(hours=3)).isoformat())
    assert client.get("/api/recordings/clip", params=params, headers=inv).status_code == 400


def test_search_shows_coverage_and_gaps_and_is_audited(client: TestClient,
                                                       tokens: dict[str, str],
                                                       recorded: Path) -> None:
    inv = bearer(tokens["investigator"])
    params = {"start": T0.isoformat(), "end": (T0 + timedelta(seconds=60)).isoformat(),
              "door": "door-B", "radius_m": 0}
    body = client.get("/api/recordings/search", params=params, headers=inv).json()
    [found] = body["cameras"]
    assert found["camera_id"] == "cam-B1" and found["matched_by"] == "sees door"
    assert found["recorded_seconds"] == 20.0
    assert [(g["start"][-9:-1], g["end"][-9:-1]) for g in found["gaps"]] == [
        ("21:40:00", "21:40:20"), ("21:40:40", "21:41:00")]
    by_building = client.get("/api/recordings/search", headers=inv, params={
        "start": params["start"], "end": params["end"], "building": "BA"}).json()
    assert {c["camera_id"] for c in by_building["cameras"]} == {"cam-A1", "cam-A2"}
    audit = client.get("/api/audit", params={"action": "recordings.search"},
                       headers=bearer(tokens["admin"])).json()
    assert len(audit) == 2 and audit[0]["actor"] == "investigator-1"
    for bad in [{"start": params["start"], "end": params["start"], "building": "BA"},
                {"start": params["start"], "end": params["end"]},
                {"start": params["start"], "end": params["end"], "near": "north"},
                {"start": params["start"], "end": params["end"], "door": "door-Z"},
                {"start": params["start"], "end": params["end"], "building": "BA",
                 "door": "door-A"}]:
        response = client.get("/api/recordings/search", params=bad, headers=inv)
        assert response.status_code == 400, bad
        assert response.json()["detail"]


def test_export_runs_and_downloads_with_manifest(client: TestClient, tokens: dict[str, str],
                                                 recorded: Path) -> None:
    inv = bearer(tokens["investigator"])
    started = client.post("/api/exports", headers=inv, json={
        "camera_ids": ["cam-A1"], "start": (T0 + timedelta(seconds=5)).isoformat(),
        "end": (T0 + timedelta(seconds=25)).isoformat(), "case_id": "CASE/42",
        "reason": "forced door"})
    assert started.status_code == 202, started.text
    export_id = started.json()["id"]
    deadline = time.monotonic() + 60
    status = started.json()
    while status["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.2)
        status = client.get(f"/api/exports/{export_id}", headers=inv).json()
    assert status["state"] == "done", status
    assert status["manifest"]["request"]["case_id"] == "CASE/42"
    assert status["manifest"]["request"]["requester"] == "investigator-1"
    download = client.get(status["download_url"], headers=inv)
    assert download.status_code == 200 and download.content[4:8] == b"ftyp"
    assert "CASE_42" in download.headers["content-disposition"]
    actions = {e["action"] for e in client.get(
        "/api/audit", params={"target": export_id}, headers=bearer(tokens["admin"])).json()}
    assert {"export.create", "export.done", "export.download"} <= actions


def test_refused_exports_say_why(client: TestClient, tokens: dict[str, str]) -> None:
    inv = bearer(tokens["investigator"])
    base = {"camera_ids": ["cam-A1"], "start": T0.isoformat(),
            "end": (T0 + timedelta(seconds=10)).isoformat(), "case_id": "c", "reason": "r"}
    cases = [{**base, "camera_ids": ["cam-nope"]}, {**base, "end": base["start"]},
             {**base, "end": (T0 + timedelta(hours=30)).isoformat()},
             {**base, "case_id": "a\nb"}]
    for body in cases:
        response = client.post("/api/exports", json=body, headers=inv)
        assert response.status_code == 400, (body, response.text)
    assert client.post("/api/exports", json={**base, "camera_ids": []},
                       headers=inv).status_code == 422
    assert client.get("/api/exports/xyz", headers=inv).status_code == 422
    assert client.get(f"/api/exports/{'a' * 32}", headers=inv).status_code == 404
