"""Recording health on the ops side: the gaps query over the layout, and the cameras
list's recording filter and counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import redis
from fastapi.testclient import TestClient

from compoundeye import names
from compoundeye.recordings import segment_path
from compoundeye.settings import Settings
from dashboard.recording_gaps import MAX_HOUR_LISTINGS, hour_listings
from tests.dashboard.conftest import bearer

T0 = datetime(2026, 11, 3, 21, 0, tzinfo=UTC)


def _segments(root: Path, camera: str, start: datetime, count: int) -> None:
    for i in range(count):
        path = segment_path(root, camera, start + timedelta(seconds=10 * i))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"\x47" * 188)


def test_gaps_per_camera_over_a_window(client: TestClient, dash_settings: Settings,
                                       tokens: dict[str, str]) -> None:
    root = dash_settings.recordings_dir
    _segments(root, "cam-A1", T0, 6)  # 21:00:00 .. 21:01:00
    _segments(root, "cam-A1", T0 + timedelta(minutes=3), 6)  # 21:03:00 .. 21:04:00 (an hour
    _segments(root, "cam-A2", T0 - timedelta(hours=1), 360 + 30)  # dir crossed) 20:00 .. 21:05
    ops = bearer(tokens["ops"])
    window = {"start": "2026-11-03T20:59:00Z", "end": "2026-11-03T21:05:00Z"}
    body = client.get("/api/recordings/gaps", params={**window, "camera": ["cam-A1", "cam-A2"]},
                      headers=ops).json()
    rows = {r["camera"]: r for r in body["cameras"]}
    assert rows["cam-A1"]["gaps"] == [
        {"start": "2026-11-03T20:59:00.000Z", "end": "2026-11-03T21:00:00.000Z", "seconds": 60.0},
        {"start": "2026-11-03T21:01:00.000Z", "end": "2026-11-03T21:03:00.000Z",
         "seconds": 120.0},
        {"start": "2026-11-03T21:04:00.000Z", "end": "2026-11-03T21:05:00.000Z", "seconds": 60.0}]
    assert rows["cam-A1"]["recorded_seconds"] == 120.0 and rows["cam-A1"]["fraction"] == 0.33333
    assert rows["cam-A2"]["gaps"] == [] and rows["cam-A2"]["fraction"] == 1.0
    only = client.get("/api/recordings/gaps", params={**window, "building": "BA",
                                                      "only_gaps": "true",
                                                      "min_gap_seconds": 90}, headers=ops).json()
    assert [r["camera"] for r in only["cameras"]] == ["cam-A1"]  # cam-A2 has none: left out
    assert [g["seconds"] for g in only["cameras"][0]["gaps"]] == [120.0]  # >= 90 s only


def test_gaps_refuses_what_it_cannot_answer(client: TestClient, tokens: dict[str, str]) -> None:
    ops = bearer(tokens["ops"])
    bad = client.get("/api/recordings/gaps", params={"start": "2026-11-03T21:00:00Z",
                                                     "end": "2026-11-03T20:00:00Z"}, headers=ops)
    assert bad.status_code == 400 and "after start" in bad.json()["detail"]
    unknown = client.get("/api/recordings/gaps", params={
        "start": "2026-11-03T20:00:00Z", "end": "2026-11-03T21:00:00Z", "camera": "cam-ZZ"},
        headers=ops)
    assert unknown.status_code == 404
    years = client.get("/api/recordings/gaps", params={
        "start": "2020-01-01T00:00:00Z", "end": "2029-01-01T00:00:00Z"}, headers=ops)
    assert hour_listings(4, datetime(2020, 1, 1, tzinfo=UTC),
                         datetime(2029, 1, 1, tzinfo=UTC)) > MAX_HOUR_LISTINGS
    assert years.status_code == 400 and "directory listings" in years.json()["detail"]


def test_cameras_by_recording_state(client: TestClient, tokens: dict[str, str],
                                    redis_client: redis.Redis) -> None:
    def status(camera: str, **fields: str) -> None:
        redis_client.hset(names.camera_status_key(camera), mapping=cast(Any, fields))

    status("cam-A1", status="online", recording="ok")
    status("cam-A2", status="online", recording="failing",
           recording_reason="not found (404): no segment finished (40 s)")
    status("cam-B1", status="offline", recording="failing", recording_reason="timeout")
    status("cam-B2", status="online", recording="disabled")
    ops = bearer(tokens["ops"])
    body = client.get("/api/cameras", headers=ops).json()
    assert body["recording_counts"] == {"ok": 1, "starting": 0, "failing": 2, "disabled": 1,
                                        "unknown": 0}
    # Up but not recording comes right after the offline cameras.
    assert [r["id"] for r in body["cameras"]][:2] == ["cam-B1", "cam-A2"]
    failing = client.get("/api/cameras", params={"recording": "failing"}, headers=ops).json()
    assert {r["id"]: r["recording_reason"] for r in failing["cameras"]} == {
        "cam-A2": "not found (404): no segment finished (40 s)", "cam-B1": "timeout"}
    assert client.get("/api/cameras", params={"recording": "maybe"},
                      headers=ops).status_code == 422
