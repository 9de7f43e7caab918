"""bench.scale at a tiny size: the books, the fleet on the edge's writers, a whole phase."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import yaml

from bench.scale import idle_site, per_process, phase_figures
from bench.scale.fleet import FleetShard, LoadShape
from bench.scale.reconcile import read_stream, reconcile
from bench.scale.stack import CONTROL_PLANE, Phase, run_phase
from compoundeye import names
from compoundeye.camera_status import CameraState, read_states
from compoundeye.services import tsdb_force_flush
from compoundeye.settings import Settings
from compoundeye.site import load_site
from compoundeye.site.models import Site
from tests.polling import wait_until

REFERENCE = Path(__file__).resolve().parents[2] / "deploy" / "site" / "compound.yaml"


def _site(cameras: int = 4, metrics_every: float = 1.0) -> Site:
    return Site.model_validate({
        "timezone": "Asia/Shanghai",
        "schedules": {"always": {"ranges": [{}]}},
        "cameras": [{"id": f"sc-{i}", "main_url": "rtsp://127.0.0.1:1/x",
                     "location": {"building": "B1", "lat": 31.11, "lon": 121.38},
                     "zones": [{"name": "gate", "polygon": [[0, 0], [1, 0], [1, 1]],
                                "armed_schedule": "always"}]}
                    for i in range(cameras)],
        "doors": [{"id": f"sd-{i}", "cameras": [f"sc-{i}"],
                   "location": {"building": "B1", "lat": 31.11, "lon": 121.38}}
                  for i in range(1, 4)],
        "edge": {"metrics_interval_seconds": metrics_every}})


def _event(event_id: str, kind: str, source: str, ts: str) -> dict[str, Any]:
    kind_type = "door" if kind.startswith("door.") else "camera"
    return {"id": event_id, "kind": kind, "ts": ts, "source": {"type": kind_type, "id": source},
            "attrs": {}}


def _change(rule: str, event_ids: list[str]) -> dict[str, Any]:
    return {"action": "created", "alert": {"rule": rule, "source": {"id": "x"}},
            "details": {"event_ids": event_ids}}


def test_books_count_what_is_lost_duplicated_and_late() -> None:
    site = _site()
    ts = "2026-12-01T20:00:00.000Z"
    cameras = [
        {"id": "e-off", "kind": "camera.offline", "source": "sc-1", "detail": "", "ts": ts,
         "sent": 100.0},
        {"id": "e-tamper", "kind": "camera.tamper", "source": "sc-2", "detail": "covered",
         "ts": ts, "sent": 100.0},
        {"id": "e-motion", "kind": "motion.start", "source": "sc-3", "detail": "*", "ts": ts,
         "sent": 100.0},  # the whole frame is no armed zone: no alert owed
        {"id": "e-never", "kind": "motion.end", "source": "sc-3", "detail": "*", "ts": ts,
         "sent": 100.0},
    ]
    doors = [{"door": "sd-1", "kind": "door.forced", "ts": ts, "sent": 1000.0},
             {"door": "sd-1", "kind": "door.closed", "ts": "2026-12-01T20:00:05.000Z",
              "sent": 1005.0}]
    events = [("1000000-0", _event("e-off", "camera.offline", "sc-1", ts)),
              ("1000001-0", _event("e-tamper", "camera.tamper", "sc-2", ts)),
              ("1000002-0", _event("e-motion", "motion.start", "sc-3", ts)),
              ("1000010-0", _event("d-forced", "door.forced", "sd-1", ts)),
              ("1000015-0", _event("d-closed", "door.closed", "sd-1",
                                   "2026-12-01T20:00:05.000Z"))]
    changes = [("1000020-0", _change("camera_offline", ["e-off"])),
               ("1000021-0", _change("camera_offline", ["e-off"])),  # a second change
               ("1000030-0", _change("door_forced", ["d-forced"])),
               ("1000040-0", _change("door_forced", ["d-closed"]))]
    desks = [{"desk": 0, "reconnects": 0, "received": [
        [1000.120, "1000020-0", "created", "camera_offline", "sc-1", ["e-off"]],
        [1000.120, "1000021-0", "created", "camera_offline", "sc-1", ["e-off"]],
        [1000.080, "1000030-0", "created", "door_forced", "sd-1", ["d-forced"]],
        [1005.020, "1000040-0", "cleared", "door_forced", "sd-1", ["d-closed"]]]},
        {"desk": 1, "reconnects": 1, "received": [
            [1000.200, "1000030-0", "created", "door_forced", "sd-1", ["d-forced"]]]}]
    books = reconcile(site, cameras, doors, events, changes, desks)
    assert books.events_in == 6 and books.events_on_bus == 5
    assert books.lost_on_bus == 1  # the motion.end never reached the stream
    assert books.must_alert == 4  # offline, tamper, forced and the close that ends it
    assert books.lost == 1 and "camera.tamper sc-2" in books.examples["lost"][0]
    assert books.duplicated == 1 and books.examples["duplicated"] == ["e-off"]
    assert books.desk_missed == 3 and books.desk_reconnects == 1
    assert sorted(round(v) for v in books.latencies_ms) == [80, 200]
    stages = books.summary()["door_to_desk_stages_ms"]
    assert stages["to_bus"]["p50"] == pytest.approx(10.0)  # published at 1000 s, added 10 ms on
    assert stages["to_alert_stream"]["p50"] == pytest.approx(20.0)
    # the window leaves out forced doors published before it
    late = reconcile(site, cameras, doors, events, changes, desks, (1001.0, 2000.0))
    assert late.latencies_ms == []


def test_fleet_shard_drives_the_edge_writers(redis_url: str, tsdb_url: str) -> None:
    site = _site()
    settings = Settings(redis_url=redis_url, tsdb_url=tsdb_url)
    stop = threading.Event()
    shard = FleetShard(site, settings, (0, 1), LoadShape(active_fraction=0.9, motion_seconds=1.0,
                                                         tamper_per_s=2.0), seed=3, stop=stop)
    thread = threading.Thread(target=shard.run)
    thread.start()
    client = redis.Redis.from_url(redis_url)
    ids = [c.id for c in site.cameras]
    try:
        wait_until(lambda: all(s is not None for s in read_states(client, ids)), 15,
                   what="every camera's status hash")
        wait_until(lambda: CameraState.TAMPERED in read_states(client, ids), 15,
                   what="a tamper episode in a status hash")
        wait_until(lambda: sum(r["kind"] == "motion.end" for r in list(shard.ledger)) >= 4, 20,
                   what="motion episodes ending")
    finally:
        stop.set()
        thread.join(timeout=30)
    states = read_states(client, ids)
    assert set(states) <= {CameraState.ONLINE, CameraState.TAMPERED}
    assert any(r["kind"] == "camera.tamper" for r in shard.ledger)
    on_bus = {e["id"] for _entry, e in read_stream(client, names.EVENTS_STREAM,
                                                   names.EVENT_FIELD)}
    assert {r["id"] for r in shard.ledger} <= on_bus  # the publisher delivered everything
    assert shard.publisher.stats.dropped == 0
    zones = {r["detail"] for r in shard.ledger if r["kind"] == "motion.start"}
    assert "*" in zones

    def up_series() -> int:
        tsdb_force_flush(tsdb_url)
        body = httpx.get(f"{tsdb_url}/api/v1/series",
                         params={"match[]": 'camera_up{worker="fleet-0of1"}'}).json()
        return len({s["camera"] for s in body["data"] if s["camera"] in ids})

    assert wait_until(up_series, 15, what="camera_up of every camera") == len(ids)
    client.close()


def test_idle_site_keeps_doors_with_their_cameras(tmp_path: Path) -> None:
    small = load_site(idle_site(REFERENCE, tmp_path / "idle.yaml", cameras=16))
    assert len(small.cameras) == 16 and small.doors
    assert all(set(d.cameras) <= set(small.cameras_by_id) for d in small.doors)
    assert "camera_files" not in yaml.safe_load((tmp_path / "idle.yaml").read_text())


@pytest.mark.slow
def test_a_tiny_phase_balances_its_books(tmp_path: Path) -> None:
    site_file = tmp_path / "site.yaml"
    site_file.write_text(yaml.safe_dump(_site(cameras=6, metrics_every=2.0).model_dump(
        mode="json", exclude_defaults=True)))
    result = run_phase(Phase("tiny", site_file, seconds=8, warmup=2, desks=2, shards=2,
                             offline_per_s=0.3, tamper_per_s=0.3, passages_per_s=1.0,
                             forced_every=1.0, held_every=0, ops_every=2.0), tmp_path / "run")
    figures = phase_figures(result)
    assert figures["cameras"] == 6 and figures["doors"] == 3
    assert figures["events_on_bus"] == figures["events_in"] > 0
    assert figures["must_alert"] > 0
    assert (figures["lost"], figures["duplicated"], figures["lost_on_bus"],
            figures["desk_missed"], figures["desk_duplicated"]) == (0, 0, 0, 0, 0)
    assert figures["door_to_desk_samples"] >= 2 and figures["door_to_desk_p99_ms"] > 0
    assert figures["ops_polls"] >= 1 and figures["ops_errors"] == 0
    assert figures["tsdb_samples_per_s"] > 0
    assert set(CONTROL_PLANE) <= set(per_process(result))
