"""The Grafana dashboard: it uses the metrics contract, and its queries run on VictoriaMetrics."""

from __future__ import annotations

import json
import re
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from compoundeye.services import tsdb_force_flush

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "cameras.json"

CONTRACT = (
    "camera_up", "camera_fps_in", "camera_fps_processed", "camera_dropped", "camera_decode_ms",
    "camera_reconnects", "camera_motion_fraction", "camera_recorded_bytes",
    "camera_recorded_seconds",
    "worker_cpu_percent", "worker_rss_bytes",
)
_METRIC = re.compile(r"\b((?:camera|worker)_[a-z_]+)\b")


def dashboard() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return document


def exprs() -> list[tuple[str, str]]:
    return [(panel["title"], target["expr"]) for panel in dashboard()["panels"]
            for target in panel["targets"]]


def test_dashboard_uses_exactly_the_contract_metrics() -> None:
    used = {m for _, expr in exprs() for m in _METRIC.findall(expr)}
    variables = {m for v in dashboard()["templating"]["list"]
                 for m in _METRIC.findall(json.dumps(v.get("query", "")))}
    assert used | variables <= set(CONTRACT)
    assert used == set(CONTRACT)  # every metric the worker writes is on a panel


def test_readme_documents_the_contract() -> None:
    readme = (DEPLOY / "README.md").read_text()
    for metric in CONTRACT:
        assert f"`{metric}`" in readme, metric


def test_the_edge_worker_writes_the_contract() -> None:
    metrics = pytest.importorskip("ingest.metrics")
    before = metrics.CameraCounters(t=0.0, up=True, frames_in=0, processed=0, dropped=0,
                                    decode_cpu_seconds=0.0, reconnects=0, motion_sum=0.0,
                                    motion_frames=0, recorded_bytes=0, recorded_seconds=0.0)
    after = metrics.CameraCounters(t=10.0, up=True, frames_in=120, processed=50, dropped=2,
                                   decode_cpu_seconds=0.3, reconnects=1, motion_sum=0.5,
                                   motion_frames=50, recorded_bytes=2_500_000,
                                   recorded_seconds=10.0)
    fields = metrics.camera_fields(before, after)
    # measurement "camera" + field "up" is the series camera_up on VictoriaMetrics
    assert {f"camera_{name}" for name in fields} == {m for m in CONTRACT if m.startswith("camera_")}


def test_dashboard_structure() -> None:
    document = dashboard()
    assert document["uid"] == "compoundeye-cameras"
    ids = [p["id"] for p in document["panels"]]
    assert len(ids) == len(set(ids))
    for panel in document["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0
        assert grid["x"] + grid["w"] <= 24
        assert panel["targets"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"])


def substitute(expr: str, building: str, worker: str) -> str:
    for name, value in (("$__rate_interval", "1m"), ("$__range", "10m"),
                        ("$building", building), ("$camera", ".*"),
                        ("$worker", worker)):
        expr = expr.replace(name, value)
    return expr


@pytest.mark.timeout(120)
def test_every_panel_query_runs_on_victoriametrics(tsdb_url: str) -> None:
    building, worker = f"T{uuid.uuid4().hex[:8]}", f"edge-{uuid.uuid4().hex[:6]}"
    now = int(time.time())
    lines = []
    for step in range(36):  # six minutes of 10-second reports, two cameras, one down
        ts = (now - 10 * step) * 1_000_000_000
        for camera, up in (("cam-a", 1), ("cam-b", 0)):
            lines.append(
                f"camera,camera={camera},building={building},worker={worker} up={up}i,"
                f"fps_in={12 * up},fps_processed={5 * up},dropped={step % 3}i,decode_ms=2.5,"
                f"reconnects={1 - up}i,motion_fraction=0.01,recorded_bytes={2_500_000 * up}i,"
                f"recorded_seconds={10.0 * up} "
                f"{ts}")
        lines.append(f"worker,worker={worker} cpu_percent=55.5,rss_bytes=400000000i {ts}")
    with httpx.Client(base_url=tsdb_url, timeout=10) as http:
        http.post("/api/v2/write", content="\n".join(lines)).raise_for_status()
        tsdb_force_flush(tsdb_url)
        results: dict[str, list[Any]] = {}
        for title, expr in exprs():
            response = http.get("/api/v1/query", params={
                "query": substitute(expr, building, worker), "time": now})
            body = response.json()
            assert response.status_code == 200 and body["status"] == "success", (title, body)
            results[title] = body["data"]["result"]
    for title in ("Worker CPU", "Worker memory (RSS)", "Decode time per frame", "Cameras down now"):
        assert results[title], title

    def value(title: str) -> float:
        return float(results[title][0]["value"][1])

    assert value("Cameras up") == 1
    assert value("Cameras down") == 1
    assert value("Recording bitrate") == pytest.approx(2_000_000, rel=0.05)  # 2.5 MB / 10 s
    assert value("Recorded fraction by building") == pytest.approx(0.5, rel=0.05)  # a and b
    assert [r["metric"]["camera"] for r in results["Cameras down now"]] == ["cam-b"]
