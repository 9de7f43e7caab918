"""Finding "limits": a body cap (413), 422s that never echo large input, extreme times
refused with 400 (the API; MQTT is in test_door_channel.py), stream ids within Redis's
64-bit range (400)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from tests.security.conftest import Dashboard

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _admin(dashboard: Dashboard) -> dict[str, str]:
    return {"Authorization": f"Bearer {dashboard.tokens['admin']}"}


def test_an_oversized_body_is_413(dashboard: Dashboard) -> None:
    body = json.dumps({"camera_ids": ["cam-1"], "start": "x" * (30 * 1024 * 1024)})
    with dashboard.client(headers=_admin(dashboard)) as client:
        response = client.post("/api/exports", content=body,
                               headers={"Content-Type": "application/json"})
        assert response.status_code == 413
        assert len(response.content) < 1000

        def chunks() -> Iterator[bytes]:  # no Content-Length: the cap holds while it streams
            for _ in range(40):
                yield b"x" * (1024 * 1024)

        streamed = client.post("/api/exports", content=chunks(),
                               headers={"Content-Type": "application/json"})
        assert streamed.status_code == 413


def test_a_422_never_echoes_large_input(dashboard: Dashboard) -> None:
    big = "y" * 150_000  # five of them: under the body cap, each over its field's limit
    with dashboard.client(headers=_admin(dashboard)) as client:
        response = client.post("/api/exports", json={"camera_ids": [big], "start": big,
                                                     "end": big, "case_id": big,
                                                     "reason": big})
    assert response.status_code == 422
    assert len(response.content) < 10_000, len(response.content)
    assert big[:1000] not in response.text


@pytest.mark.parametrize("path", ["/api/alerts", "/api/audit"])
@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00",
                                   "1900-01-01T00:00:00Z"])
def test_extreme_timestamps_are_400(dashboard: Dashboard, path: str, value: str) -> None:
    with dashboard.client(headers=_admin(dashboard)) as client:
        for params in ({"since": value}, {"until": value},
                       {"since": value, "until": "2026-01-01T00:00:00Z"}):
            response = client.get(path, params=params)
            assert response.status_code == 400, (params, response.status_code, response.text)
            assert "range" in response.json()["detail"]


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+14:00", "1900-01-01T00:00:00Z"])
def test_extreme_timestamps_in_playback_are_refused(dashboard: Dashboard, value: str) -> None:
    with dashboard.client(headers=_admin(dashboard)) as client:
        timeline = client.get("/api/playback/timeline", params={
            "camera": "cam-1", "start": value, "end": "2026-01-01T00:00:00Z"})
        assert timeline.status_code == 400, timeline.text
        assert "range" in timeline.json()["detail"]
        session = client.post("/api/playback/sessions", json={
            "cameras": ["cam-1"], "start": "2026-01-01T00:00:00Z",
            "end": "2026-01-01T00:10:00Z", "at": value})
        assert session.status_code == 422, session.text
        assert "range" in session.text


def test_a_stream_id_beyond_redis_range_is_400(dashboard: Dashboard) -> None:
    with dashboard.client(headers=_admin(dashboard)) as client:
        for bad in ("99999999999999999999-0", "0-18446744073709551616"):
            # A stream that opened would never end: look at the status line only.
            for params, headers in (({"after": bad}, {}), ({}, {"Last-Event-ID": bad})):
                with client.stream("GET", "/api/alerts/stream", params=params,
                                   headers=headers) as response:
                    assert response.status_code == 400, (bad, params, headers)
        good = "18446744073709551615-18446744073709551615"  # the largest id Redis takes
        with client.stream("GET", "/api/alerts/stream", params={"after": good}) as response:
            assert response.status_code == 200
