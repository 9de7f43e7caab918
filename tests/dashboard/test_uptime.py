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
from compoundeye.tsdb import MetricsQueryError, MetricsReader
from dashboard.app import create_app
from dashboard.uptime import Uptime, UptimeCache, UptimePair, fps_history, recorded, uptime
from tests.dashboard.conftest import bearer
from tests.polling import wait_until


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


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _result(value: float) -> UptimePair:
    return (Uptime("24h", {"c1": value}, {"b1": value}),
            Uptime("24h", {"c1": value / 2}, {"b1": value / 2}))


def test_uptime_cache_serves_fresh_then_stale_while_one_refresh_runs() -> None:
    clock = _Clock()
    cache = UptimeCache(fresh=30, stale=600, clock=clock)
    key = ("24h", None, None)
    assert cache.lookup(key) == (None, False)  # nothing yet: the caller computes
    cache.store(key, _result(0.9))
    clock.now += 10
    assert cache.lookup(key) == (_result(0.9), False)  # fresh
    clock.now += 30
    assert cache.lookup(key) == (_result(0.9), True)  # stale: served, one refresh asked
    assert cache.lookup(key) == (_result(0.9), False)  # ...and only one
    cache.store(key, _result(0.8))
    assert cache.lookup(key) == (_result(0.8), False)
    clock.now += 600
    assert cache.lookup(key) == (None, False)  # too old to show: computed again
    assert cache.lookup(("7d", None, None)) == (None, False)  # keys are apart


def test_uptime_cache_background_refresh_keeps_result_or_retries() -> None:
    clock = _Clock()
    cache = UptimeCache(fresh=30, stale=600, clock=clock)
    key = ("24h", "B1", None)
    cache.store(key, _result(0.5))
    clock.now += 31
    assert cache.lookup(key)[1]

    def broken() -> UptimePair:
        raise MetricsQueryError("TSDB away")

    cache.refresh_in_background(key, broken)
    # the failure lets the next stale lookup ask for a refresh again
    assert wait_until(lambda: cache.lookup(key) == (_result(0.5), True), 5,
                      what="a failed refresh released")
    cache.refresh_in_background(key, lambda: _result(0.7))
    assert wait_until(lambda: cache.lookup(key) == (_result(0.7), False), 5,
                      what="the refreshed result kept")
