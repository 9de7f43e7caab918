"""Live tickets and playback sessions through the API: roles, audit, playlists, segments."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from compoundeye.store import NewAlert, Store
from dashboard.streaming.tickets import TicketChecker, live_key
from sample_streams.numbered import write_clock_segments
from tests.dashboard.conftest import bearer

pytestmark = pytest.mark.timeout(180)
T0 = datetime(2026, 11, 3, 21, 40, 0, tzinfo=UTC)
WINDOW = {"start": "2026-11-03T21:30:00Z", "end": "2026-11-03T22:00:00Z"}


@pytest.fixture
def recorded(client: TestClient, tmp_path: Path) -> Path:
    """30 s of clock-numbered H.264 for cam-A1 from T0, 20 s of H.265 for cam-B1."""
    root: Path = client.app.state.ce.settings.recordings_dir  # type: ignore[attr-defined]
    write_clock_segments(root, "cam-A1", T0, 30, tmp_path / "work")
    write_clock_segments(root, "cam-B1", T0, 20, tmp_path / "work", codec="libx265")
    return root


def test_live_ticket_roles(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.post("/api/live/ticket").status_code == 401
    for role in ("investigator",):
        response = client.post("/api/live/ticket", headers=bearer(tokens[role]))
        assert response.status_code == 403
    data_dir = client.app.state.ce.settings.data_dir  # type: ignore[attr-defined]
    checker = TicketChecker(live_key(data_dir))
    for role in ("operator", "ops", "admin"):
        response = client.post("/api/live/ticket", headers=bearer(tokens[role]))
        assert response.status_code == 200
        body = response.json()
        assert body["url"].startswith("ws://") and body["url"].endswith("/ws")
        assert checker.check(body["ticket"], time.time()).role.value == role
        assert "ws://" in response.headers["Content-Security-Policy"]


def test_playback_roles(client: TestClient, tokens: dict[str, str], recorded: Path) -> None:
    body = {"cameras": ["cam-A1"], **WINDOW}
    assert client.post("/api/playback/sessions", json=body).status_code == 401
    assert client.get("/api/playback/timeline", params={"camera": "cam-A1", **WINDOW}
                      ).status_code == 401
    for role in ("operator", "ops"):
        headers = bearer(tokens[role])
        assert client.post("/api/playback/sessions", json=body, headers=headers
                           ).status_code == 403
        assert client.get("/api/playback/timeline", params={"camera": "cam-A1", **WINDOW},
                          headers=headers).status_code == 403


def test_a_playback_session_is_audited_and_serves_its_window(
        client: TestClient, tokens: dict[str, str], recorded: Path, store: Store) -> None:
    police = bearer(tokens["investigator"])
    at = T0 + timedelta(seconds=12)
    response = client.post("/api/playback/sessions", headers=police, json={
        "cameras": ["cam-A1", "cam-B1"], **WINDOW, "at": at.isoformat()})
    assert response.status_code == 201, response.text
    session = response.json()
    a1, b1 = session["cameras"]
    assert (a1["codec"], a1["width"], a1["fps"], a1["playable"]) == ("h264", 640, 15.0, True)
    assert b1["codec"] == "hevc" and b1["playable"] is False and "H.265" in b1["reason"]
    assert "cannot decode" in b1["reason"]
    started = store.audit.list(action="playback.start")
    assert len(started) == 1 and started[0].target == "cam-A1,cam-B1"
    assert started[0].details["window_start"] == "2026-11-03T21:30:00+00:00"

    playlist = client.get(a1["playlist"], headers=police)
    assert playlist.status_code == 200
    assert playlist.headers["content-type"].startswith("application/vnd.apple.mpegurl")
    lines = playlist.text.splitlines()
    uris = [line for line in lines if line.endswith(".ts")]
    assert uris == [f"2026-11-03/21/40.{s:02d}.ts" for s in (0, 10, 20)]
    assert lines.count("#EXT-X-DISCONTINUITY") == 2  # timestamps restart in every segment
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-11-03T21:40:10.000Z" in lines
    assert "#EXTINF:10.000," in lines and lines[-1] == "#EXT-X-ENDLIST"

    base = a1["playlist"].rsplit("/", 1)[0]
    segment = client.get(f"{base}/{uris[1]}", headers=police)
    assert segment.status_code == 200 and segment.headers["content-type"] == "video/mp2t"
    on_disk = (recorded / "cam-A1" / uris[1]).read_bytes()
    assert segment.content == on_disk  # served as recorded, never re-encoded
    # Outside the window, another camera, a path that is not a segment: refused.
    assert client.get(f"{base}/2026-11-03/23/00.00.ts", headers=police).status_code == 404
    other = f"/api/playback/sessions/{session['id']}/cam-A2/2026-11-03/21/40.00.ts"
    assert client.get(other, headers=police).status_code == 404
    for bad in ("..%2F..%2Fsession.key", "2026-11-03/21/..%2F40.00.ts", "x/y/z.ts"):
        assert client.get(f"{base}/{bad}", headers=police).status_code in (400, 404)
    # Someone else's session is not theirs to use.
    assert client.get(a1["playlist"], headers=bearer(tokens["admin"])).status_code == 403

    closed = client.post(f"/api/playback/sessions/{session['id']}/close", headers=police)
    assert closed.status_code == 200
    ended = store.audit.list(action="playback.end")
    assert len(ended) == 1
    details = ended[0].details
    assert ended[0].actor == "investigator-1" and details["cameras"] == ["cam-A1", "cam-B1"]
    assert details["segments"] == 1 and details["watched_from"] == "2026-11-03T21:40:10+00:00"
    assert details["start"] < details["end"] and details["reason"] == "closed by the viewer"
    assert client.post(f"/api/playback/sessions/{session['id']}/close",
                       headers=police).status_code == 404  # closed once, audited once
    assert client.get(a1["playlist"], headers=police).status_code == 404


def test_timeline_shows_coverage_gaps_and_alerts(
        client: TestClient, tokens: dict[str, str], store: Store, tmp_path: Path) -> None:
    # Recent recordings: the store files alerts by when they were opened (now).
    now = datetime.now(UTC).replace(microsecond=0)
    t0 = now - timedelta(minutes=10, seconds=now.second % 10)
    root: Path = client.app.state.ce.settings.recordings_dir  # type: ignore[attr-defined]
    write_clock_segments(root, "cam-A1", t0, 30, tmp_path / "work")
    store.alerts.create(NewAlert(
        rule="door_forced", priority=1, source_type="door", source_id="door-A",
        title="door forced", dedupe_key="k1", event_at=t0 + timedelta(seconds=15),
        building="BA", cameras=["cam-A1"], clip_start=t0, clip_end=t0 + timedelta(seconds=30),
    ), actor="alerts")
    window = {"start": (t0 - timedelta(minutes=5)).isoformat(),
              "end": (t0 + timedelta(minutes=5)).isoformat()}
    response = client.get("/api/playback/timeline", headers=bearer(tokens["investigator"]),
                          params={"camera": "cam-A1", **window})
    assert response.status_code == 200
    data = response.json()
    assert data["segments"] == 3
    assert data["covered"] == [{"start": t0.isoformat(),
                                "end": (t0 + timedelta(seconds=30)).isoformat()}]
    assert [g["end"] for g in data["gaps"]] == [t0.isoformat(), window["end"]]
    assert [(a["title"], a["at"]) for a in data["alerts"]] == [
        ("door forced", (t0 + timedelta(seconds=15)).isoformat())]
    assert data["motion"] == []  # no motion metrics were written for this window
    too_long = client.get("/api/playback/timeline", headers=bearer(tokens["investigator"]),
                          params={"camera": "cam-A1", "start": "2026-11-01T00:00:00Z",
                                  "end": "2026-11-03T00:00:00Z"})
    assert too_long.status_code == 400
    unknown = client.get("/api/playback/timeline", headers=bearer(tokens["investigator"]),
                         params={"camera": "cam-Z9", **WINDOW})
    assert unknown.status_code == 404


def test_live_and_playback_pages_by_role(client: TestClient, tokens: dict[str, str]) -> None:
    def page(role: str, path: str) -> int:
        client.cookies.clear()
        login = client.post("/auth/login", data={"token": tokens[role]},
                            follow_redirects=False)
        assert login.status_code == 303
        status: int = client.get(path, follow_redirects=False).status_code
        return status

    assert page("operator", "/live") == 200 and page("ops", "/live") == 200
    assert page("investigator", "/live") == 403
    assert page("investigator", "/recordings") == 200 and page("operator", "/recordings") == 403
    client.cookies.clear()
    assert client.get("/live", follow_redirects=False).status_code == 303  # to sign-in
