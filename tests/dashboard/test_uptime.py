"""Uptime and fps from a real VictoriaMetrics: aggregate queries, per camera and building."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from fastapi.testclient import TestClient

from compoundeye.services import tsdb_force_flush
from compoundeye.settings import Settings
from compoundeye.site.models import Site
from compoundeye.tsdb import MetricsReader
from dashboard.app import create_app
from dashboard.uptime import fps_history, recorded, uptime
from tests.dashboard.conftest import bearer


def _site(prefix: str) -> Site:
    return Site.model_validate({"edge": {"metrics_interval_seconds": 60}, "cameras": [
        {"id": f"{prefix}-{n}", "main_url": "rtsp://127.0.0.1:1/x",
         "location": {"building": f"{prefix}-bldg", "lat": 31.11, "lon": 121.38}}
        for n in ("good", "half")]})


def _seed(tsdb_url: str, prefix: str) -> None:
    now_ms = int(time.time() * 1000)
    lines = []
    for minute in range(120):
        at = now_ms - (120 - minute) * 60_000
        labels = f'building="{prefix}-bldg",worker="w1"'
        lines.append(f'camera_up{{camera="{prefix}-good",{labels}}} 1 {at}')
        lines.append(f'camera_up{{camera="{prefix}-half",{labels}}} {1 if minute < 60 else 0} {at}')
        lines.append(f'camera_fps_processed{{camera="{prefix}-good",{labels}}} 5 {at}')
        # One sample per minute (the interval): 60 s recorded, or 15 s for 'half' later on.
        lines.append(f'camera_recorded_seconds{{camera="{prefix}-good",{labels}}} 60 {at}')
        lines.append(f'camera_recorded_seconds{{camera="{prefix}-half",{labels}}} '
                     f'{60 if minute < 60 else 15} {at}')
    response = httpx.post(f"{tsdb_url}/api/v1/import/prometheus", content="\n".join(lines) + "\n")
    response.raise_for_status()
    tsdb_force_flush(tsdb_url)


@pytest.fixture
def prefix(tsdb_url: str) -> str:
    name = f"up{uuid.uuid4().hex[:8]}"
    _seed(tsdb_url, name)
    return name


def test_uptime_by_camera_and_building(tsdb_url: str, prefix: str) -> None:
    with MetricsReader(tsdb_url) as reader:
        result = uptime(reader, "24h", building=f"{prefix}-bldg")
    assert result.cameras == {f"{prefix}-good": 1.0, f"{prefix}-half": 0.5}
    assert result.buildings == {f"{prefix}-bldg": 0.75}


def test_recorded_fraction_over_the_seconds_the_samples_span(tsdb_url: str, prefix: str) -> None:
    with MetricsReader(tsdb_url) as reader:
        result = recorded(reader, "24h", 60.0, building=f"{prefix}-bldg")
    # 'half': an hour fully recorded, then an hour at a quarter.
    assert result.cameras == {f"{prefix}-good": 1.0, f"{prefix}-half": 0.625}
    assert result.buildings == {f"{prefix}-bldg": 0.8125}


def test_fps_history_one_query_many_cameras(tsdb_url: str, prefix: str) -> None:
    with MetricsReader(tsdb_url) as reader:
        series = fps_history(reader, [f"{prefix}-good", f"{prefix}-half"], "1h")
    assert list(series) == [f"{prefix}-good"]  # the other camera has no fps series
    values = [v for v in series[f"{prefix}-good"] if v is not None]
    assert len(values) >= 25 and set(values) == {5.0}


def test_uptime_api(dash_settings: Settings, tokens: dict[str, str], prefix: str,
                    redis_client: object) -> None:
    with TestClient(create_app(dash_settings, _site(prefix)),
                    base_url="http://127.0.0.1") as client:
        ops = bearer(tokens["ops"])
        body = client.get("/api/uptime", params={"window": "24h"}, headers=ops).json()
        assert body["cameras"][f"{prefix}-half"] == 0.5
        assert body["buildings"][f"{prefix}-bldg"] == 0.75
        assert body["recorded"]["cameras"][f"{prefix}-half"] == 0.625
        one = client.get("/api/uptime", params={"camera": f"{prefix}-good"}, headers=ops).json()
        assert one["cameras"] == {f"{prefix}-good": 1.0}
        assert client.get("/api/uptime", params={"window": "2y"}, headers=ops).status_code == 422
        assert client.get("/api/uptime", params={"camera": "nope"}, headers=ops).status_code == 404
        fps = client.get("/api/cameras/fps", params={"camera": f"{prefix}-good"},
                         headers=ops).json()
        assert 5.0 in fps["fps"][f"{prefix}-good"]


def test_tsdb_down_is_a_503_with_a_reason(dash_settings: Settings, tokens: dict[str, str],
                                          redis_client: object) -> None:
    down = dash_settings.model_copy(update={"tsdb_url": "http://127.0.0.1:9"})
    with TestClient(create_app(down, _site("down")), base_url="http://127.0.0.1") as client:
        response = client.get("/api/uptime", headers=bearer(tokens["ops"]))
    assert response.status_code == 503 and "TSDB" in response.json()["detail"]
