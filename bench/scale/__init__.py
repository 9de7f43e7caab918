"""``compoundeye bench scale``: the whole reference site through the real control plane.

The load of ``deploy/site/compound.yaml`` (every camera and door of Kangcheng) goes
through the project's own writers into private Redis, Mosquitto and VictoriaMetrics and a
fresh PostgreSQL database, and is consumed and served by the real processes: the door
listener, two alerting replicas in one consumer group, the dashboard (uvicorn), with
eight desks following ``/api/alerts/stream`` and the ops page's data path polled every
5 s. See :mod:`bench.scale.stack` for how it runs, :mod:`bench.scale.fleet` and
:mod:`bench.scale.doorgen` for the load, :mod:`bench.scale.reconcile` for the books.

Baseline in the same run: the same forced-door publish to desk delivery on an idle
control plane, 16 cameras of the site and their doors, with the same eight desks.
``ratio`` = idle p99 / loaded p99 (1 would mean the load costs the desk nothing).
Targets: door-to-desk p99 under 250 ms (aim 100), the ops page's data path p99 under
1 s, nothing lost or duplicated. ``--quick``: 2 minutes of load (30 s baseline), full:
10 minutes (60 s baseline).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench.runner import BenchResult
from bench.scale.stack import CONTROL_PLANE, LOAD, Phase, PhaseResult, run_phase
from compoundeye.site import load_site

log = logging.getLogger(__name__)

SITE_FILE = Path(__file__).resolve().parent.parent.parent / "deploy" / "site" / "compound.yaml"
TARGET_DOOR_P99_MS = 250.0
AIM_DOOR_P99_MS = 100.0
TARGET_OPS_P99_MS = 1000.0
IDLE_CAMERAS = 16
SERVICES = ("redis", "mqtt", "tsdb")


def idle_site(source: Path, out: Path, cameras: int = IDLE_CAMERAS) -> Path:
    """A site of the first doors of ``source`` and ``cameras`` cameras that see them."""
    site = load_site(source)
    picked: list[str] = []
    doors = []
    for door in site.doors:
        if len(picked) + len(door.cameras) > cameras:
            break
        doors.append(door)
        picked += [c for c in door.cameras if c not in picked]
    rest = [c.id for c in site.cameras if c.id not in picked]
    picked += rest[:cameras - len(picked)]
    by_id = site.cameras_by_id
    small = site.model_copy(update={"cameras": [by_id[c] for c in picked], "doors": doors,
                                    "camera_files": []})
    out.write_text(yaml.safe_dump(small.model_dump(mode="json", exclude_defaults=True),
                                  sort_keys=False), encoding="utf-8")
    return out


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def per_process(result: PhaseResult) -> dict[str, dict[str, float]]:
    """CPU (cores) and peak resident memory of each process, absolute and per 1,000
    cameras."""
    per_k = result.cameras / 1000.0
    out = {}
    for name in (*CONTROL_PLANE, *SERVICES, *LOAD):
        if name not in result.cpu_cores:
            continue
        cores, rss = result.cpu_cores[name], result.rss_mb.get(name, 0.0)
        out[name] = {"cpu_cores": cores, "cpu_cores_per_1000_cameras": round(cores / per_k, 4),
                     "rss_mb": rss, "rss_mb_per_1000_cameras": round(rss / per_k, 1)}
    return out


def phase_figures(result: PhaseResult) -> dict[str, Any]:
    """The phase's figures as the JSON reports them."""
    books = result.books.summary()
    return {
        "cameras": result.cameras, "doors": result.doors,
        "window_seconds": result.window_seconds, "store": result.store,
        "door_to_desk_p50_ms": books["door_to_desk_p50_ms"],
        "door_to_desk_p99_ms": books["door_to_desk_p99_ms"],
        "door_to_desk_max_ms": books["door_to_desk_max_ms"],
        "door_to_desk_samples": books["door_to_desk_samples"],
        "door_to_desk_stages_ms": books["door_to_desk_stages_ms"],
        "ops_p50_ms": _pct(result.ops_ms, 0.5), "ops_p99_ms": _pct(result.ops_ms, 0.99),
        "ops_polls": len(result.ops_ms), "ops_errors": result.ops_errors,
        "cameras_api_p50_ms": _pct(result.cameras_api_ms, 0.5),
        "cameras_api_p99_ms": _pct(result.cameras_api_ms, 0.99),
        "ops_parts_ms": {part: {"p50": _pct(v, 0.5), "p99": _pct(v, 0.99)}
                         for part, v in result.ops_parts_ms.items()},
        "lost": books["lost"], "duplicated": books["duplicated"],
        "lost_on_bus": books["lost_on_bus"], "duplicated_on_bus": books["duplicated_on_bus"],
        "events_in": books["events_in"], "camera_events": books["camera_events"],
        "door_messages": books["door_messages"], "events_on_bus": books["events_on_bus"],
        "events_per_s": round(books["events_on_bus"] / max(1.0, result.window_seconds), 1),
        "must_alert": books["must_alert"], "alert_changes": books["alert_changes"],
        "changes_by_rule": books["changes_by_rule"],
        "other_events_on_bus": books["other_events_on_bus"],
        "forced_doors": books["forced"], "desks": result.phase.desks,
        "desk_missed": books["desk_missed"], "desk_duplicated": books["desk_duplicated"],
        "desk_reconnects": books["desk_reconnects"], "examples": books["examples"],
        "per_process": per_process(result), "redis": result.redis,
        "tsdb_samples_per_s": result.tsdb_samples_per_s, "drain_seconds": result.drain_seconds,
        "load": result.load_stats,
    }


def measure(quick: bool) -> BenchResult:
    """The idle baseline, then the whole site under load."""
    with tempfile.TemporaryDirectory(prefix="ce-bench-scale-") as tmp:
        work = Path(tmp)
        small = idle_site(SITE_FILE, work / "idle-site.yaml")
        idle = run_phase(Phase("idle", small, seconds=30 if quick else 60, warmup=5, shards=1,
                               offline_per_s=0, tamper_per_s=0, passages_per_s=0.5,
                               forced_every=1.0, held_every=0, ops_every=None), work / "idle")
        full = run_phase(Phase("site", SITE_FILE, seconds=120 if quick else 600),
                         work / "site")
    base, loaded = phase_figures(idle), phase_figures(full)
    p99, idle_p99 = loaded["door_to_desk_p99_ms"], base["door_to_desk_p99_ms"]
    if p99 is None or idle_p99 is None:
        raise RuntimeError("no forced-door latency was measured")
    ops_p99 = loaded["ops_p99_ms"]
    return BenchResult(
        name="scale", value=p99, unit="ms (p99, forced-door publish to each desk's SSE)",
        baseline=f"the same on an idle control plane ({base['cameras']} cameras, "
                 f"{base['doors']} doors, same 8 desks)",
        baseline_value=idle_p99, ratio=round(idle_p99 / p99, 3),
        extra={
            **{k: v for k, v in loaded.items()},
            "target_door_to_desk_p99_ms": TARGET_DOOR_P99_MS,
            "aim_door_to_desk_p99_ms": AIM_DOOR_P99_MS,
            "target_ops_p99_ms": TARGET_OPS_P99_MS,
            "meets_door_target": p99 <= TARGET_DOOR_P99_MS,
            "meets_door_aim": p99 <= AIM_DOOR_P99_MS,
            "meets_ops_target": ops_p99 is not None and ops_p99 <= TARGET_OPS_P99_MS,
            "balanced": loaded["lost"] == 0 and loaded["duplicated"] == 0
            and loaded["lost_on_bus"] == 0 and loaded["duplicated_on_bus"] == 0
            and loaded["desk_missed"] == 0 and loaded["desk_duplicated"] == 0,
            "idle": base,
            "idle_door_to_desk_p50_ms": base["door_to_desk_p50_ms"],
            "door_to_desk_p50_vs_idle": None if not base["door_to_desk_p50_ms"]
            else round(loaded["door_to_desk_p50_ms"] / base["door_to_desk_p50_ms"], 2),
            "quick": quick,
        },
    )
