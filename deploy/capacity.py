"""Edge sizing of a site from measured figures: ``python -m deploy.capacity [SITE]``.

The figures are in ``deploy/capacity.json``, each with where it was measured (a benchmark
and its JSON field, or a command run by hand). For every edge shard this works out, at
the busiest moment of the week (the schedules decide which cameras run at full rate and
which in health mode), the CPU and memory the shard's cameras need, and so what
``k8s/edge.yaml`` must request; and, from ``bench scale``'s figures, what the alerting,
dashboard and door-listener pods request. ``tests/deploy/test_manifests.py`` checks the
manifests against it, so a changed site, figure or replica count that the requests no
longer cover fails the suite.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from compoundeye.site import Site, load_site
from compoundeye.site.models import Camera
from ingest.sharding import split

FIGURES = Path(__file__).with_name("capacity.json")
SITE = Path(__file__).with_name("site") / "compound.yaml"
WEEK_START = date(2026, 11, 23)  # a Monday; schedules repeat weekly
STEP_MINUTES = 30


@dataclass(frozen=True)
class Figures:
    """What one camera costs the edge, measured (see ``capacity.json`` for the sources)."""

    full_cameras_per_core: float
    health_cameras_per_core: float
    recorder_core_share: float
    full_rss_mb: float
    health_rss_mb: float
    recorder_pss_mb: float
    worker_base_mb: float
    headroom: float

    @classmethod
    def load(cls, path: Path = FIGURES) -> Figures:
        data: dict[str, Any] = json.loads(path.read_text())
        return cls(**{name: float(data[name]["value"]) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class ShardNeed:
    """One shard's cameras at one moment, and what they need (with headroom)."""

    shard: int
    full: int
    health: int
    cores: float
    memory_mb: float


@dataclass(frozen=True)
class ControlPlane:
    """What the control plane's processes use at the whole site's evening peak, measured
    by ``compoundeye bench scale`` (see ``capacity.json`` for the run)."""

    alerts_cores: float
    alerts_rss_mb: float
    dashboard_cores: float
    dashboard_rss_mb: float
    doors_cores: float
    doors_rss_mb: float
    control_headroom: float

    @classmethod
    def load(cls, path: Path = FIGURES) -> ControlPlane:
        data: dict[str, Any] = json.loads(path.read_text())
        return cls(**{name: float(data[name]["value"]) for name in cls.__dataclass_fields__})


CONTROL_PLANE_WORKLOADS = {"ce-alerts": "alerts", "ce-dashboard": "dashboard",
                           "ce-doors": "doors"}
"""Deployment name to the figures' prefix."""


def control_plane_needs(figures: ControlPlane) -> dict[str, tuple[float, float]]:
    """Each control-plane Deployment's pod: (cores, MiB) its requests must cover, the
    measured use times the headroom (bursts: a backlog after an outage, page loads)."""
    out = {}
    for workload, prefix in CONTROL_PLANE_WORKLOADS.items():
        cores = getattr(figures, f"{prefix}_cores") * figures.control_headroom
        memory = getattr(figures, f"{prefix}_rss_mb") * figures.control_headroom
        out[workload] = (cores, memory)
    return out


def _shards(site: Site, shards: int) -> list[list[Camera]]:
    by_id = site.cameras_by_id
    return [[by_id[i] for i in ids] for ids in split([c.id for c in site.cameras], shards)]


Modes = dict[str, tuple[str, tuple[str, ...]]]


def _modes(site: Site) -> Modes:
    """Each camera's resolved detect mode and armed schedules (they do not change)."""
    return {c.id: (site.detect_mode_of(c), tuple(c.armed_schedules)) for c in site.cameras}


def shard_needs(site: Site, shards: int | list[list[Camera]], moment: datetime,
                figures: Figures, modes: Modes | None = None) -> list[ShardNeed]:
    """Every shard's need at ``moment`` (an aware datetime); ``shards`` a count, or the
    shards' cameras already split."""
    split_up = _shards(site, shards) if isinstance(shards, int) else shards
    resolved = modes or _modes(site)
    # Site.needs_full_rate per camera, with each schedule read once for the moment.
    active = {name: site.schedule_active(name, moment) for name in site.schedules}

    def full_rate(camera: Camera) -> bool:
        mode, armed = resolved[camera.id]
        return mode == "full" or (mode == "armed" and any(active[n] for n in armed))

    out = []
    for index, cameras in enumerate(split_up):
        full = sum(1 for c in cameras if full_rate(c))
        health = len(cameras) - full
        recorded = sum(1 for c in cameras if c.record)
        cores = (full / figures.full_cameras_per_core
                 + health / figures.health_cameras_per_core
                 + recorded * figures.recorder_core_share)
        memory = (figures.worker_base_mb + full * figures.full_rss_mb
                  + health * figures.health_rss_mb + recorded * figures.recorder_pss_mb)
        out.append(ShardNeed(index, full, health, cores * figures.headroom,
                             memory * figures.headroom))
    return out


def _week(site: Site, shards: int, figures: Figures) -> list[tuple[datetime, list[ShardNeed]]]:
    start = datetime.combine(WEEK_START, time(0), tzinfo=site.tz)
    split_up, modes = _shards(site, shards), _modes(site)
    return [(moment, shard_needs(site, split_up, moment, figures, modes))
            for moment in (start + timedelta(minutes=step * STEP_MINUTES)
                           for step in range(7 * 24 * 60 // STEP_MINUTES))]


def busiest(site: Site, shards: int, figures: Figures) -> tuple[datetime, list[ShardNeed]]:
    """The moment of the week when the busiest shard needs the most CPU, and every need."""
    return max(_week(site, shards, figures), key=lambda m: max(n.cores for n in m[1]))


def quietest(site: Site, shards: int, figures: Figures) -> tuple[datetime, list[ShardNeed]]:
    """The moment of the week when the whole edge needs the least CPU."""
    return min(_week(site, shards, figures), key=lambda m: sum(n.cores for n in m[1]))


def main(argv: Sequence[str] | None = None) -> int:
    """Print the site's edge needs at its busiest and quietest moments."""
    parser = argparse.ArgumentParser(description="edge sizing from measured figures")
    parser.add_argument("site", type=Path, nargs="?", default=SITE)
    parser.add_argument("--shards", type=int, default=12)
    args = parser.parse_args(argv)
    site, figures = load_site(args.site), Figures.load()
    moment, needs = busiest(site, args.shards, figures)
    full, health = sum(n.full for n in needs), sum(n.health for n in needs)
    total = sum(n.cores for n in needs) / figures.headroom
    top = max(needs, key=lambda n: n.cores)
    sys.stdout.write(
        f"busiest moment {moment:%a %H:%M} ({site.timezone}): {full} cameras full rate, "
        f"{health} in health mode; {total:.1f} cores without headroom\n"
        f"busiest of {args.shards} shards: shard {top.shard}, {top.full + top.health} cameras "
        f"({top.full} full, {top.health} health): {top.cores:.2f} cores and "
        f"{top.memory_mb / 1024:.2f} GiB with x{figures.headroom:g} headroom\n")
    moment, needs = quietest(site, args.shards, figures)
    sys.stdout.write(
        f"quietest moment {moment:%a %H:%M}: {sum(n.full for n in needs)} full rate, "
        f"{sum(n.health for n in needs)} in health mode; "
        f"{sum(n.cores for n in needs) / figures.headroom:.1f} cores without headroom\n")
    control = ControlPlane.load()
    for workload, (cores, memory) in control_plane_needs(control).items():
        sys.stdout.write(f"{workload}: {cores:.2f} cores and {memory:.0f} MiB per pod with "
                         f"x{control.control_headroom:g} headroom (bench scale)\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
