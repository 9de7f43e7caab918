"""Generate the reference compound's site config: ``compound.yaml`` and ``cameras.csv``.

``python -m deploy.gen_site --out deploy/site``

286 residential blocks in four neighbourhoods laid out on street grids around a central
spine (three schools, a wet market, a health centre), four compound gates, more than
2,400 cameras (entrances, lobbies, lifts, car parks, perimeters; kept in the CSV file as
a real site keeps them in a spreadsheet) and a door controller at every entrance. Seeded:
the same seed writes the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from compoundeye.site.camera_csv import CSV_COLUMNS

SEED = 20261128
ORIGIN_LAT, ORIGIN_LON = 1.3452, 103.9461  # south-west corner: an east Singapore new town
TIMEZONE = "Asia/Singapore"
NEIGHBOURHOODS = ("riverside", "parkview", "hillcrest", "lakeside")  # SW, SE, NW, NE
BLOCKS_PER_NEIGHBOURHOOD = (72, 72, 71, 71)
CAMERAS_PER_NVR = 64
_METRES_PER_DEG_LAT = 111_320.0

# Street grid of one neighbourhood: 9 x 8 plots, a street after every 3 columns / 4 rows.
_COLS, _ROWS = 9, 8
_PLOT_W, _PLOT_H, _STREET = 42.0, 48.0, 18.0
_HOOD_W = _COLS * _PLOT_W + 2 * _STREET
_HOOD_H = _ROWS * _PLOT_H + 1 * _STREET
_SPINE = 120.0  # the central avenues between neighbourhoods, where the facilities are

ENTRANCE_ZONE = "0.05 0.45;0.95 0.45;0.95 1;0.05 1"
PERIMETER_MASK = "0 0;1 0;1 0.15;0 0.15"

SCHEDULES: dict[str, Any] = {
    "night": {"ranges": [{"start": "22:00", "end": "06:00"}]},
    "school-hours": {"ranges": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "06:30", "end": "18:30"},
        {"days": ["sat"], "start": "07:30", "end": "13:00"},
    ]},
    "market-hours": {"ranges": [
        {"start": "05:00", "end": "13:00"},
        {"days": ["fri", "sat", "sun"], "start": "17:00", "end": "23:00"},
    ]},
    "clinic-hours": {"ranges": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "21:00"},
        {"days": ["sat", "sun"], "start": "08:00", "end": "13:00"},
    ]},
    "side-gate-hours": {"ranges": [{"start": "05:30", "end": "23:30"}]},
}


@dataclass
class CameraPlan:
    """One camera of the plan, in local metres east (x) and north (y) of the origin."""

    id: str
    name: str
    building: str
    zone: str
    x: float
    y: float
    floor: int = 0
    detect_fps: float = 5.0
    zones: str = ""
    masks: str = ""


@dataclass
class DoorPlan:
    """One door controller and the cameras that see it."""

    id: str
    name: str
    building: str
    zone: str
    x: float
    y: float
    cameras: list[str]
    held_open_seconds: float
    schedule: str | None = None


@dataclass
class BuildingPlan:
    """A residential block or a facility (school, market, health centre, gate)."""

    id: str
    name: str
    kind: str  # residential, school, market, health, gate
    zone: str
    x: float
    y: float
    floors: int
    entrances: int


@dataclass
class SitePlan:
    """Everything the generator lays out, before it is written."""

    buildings: list[BuildingPlan] = field(default_factory=list)
    cameras: list[CameraPlan] = field(default_factory=list)
    doors: list[DoorPlan] = field(default_factory=list)


def to_lat_lon(x: float, y: float) -> tuple[float, float]:
    """Local metres east/north of the origin to WGS84 (flat earth: the site is ~1 km)."""
    lat = ORIGIN_LAT + y / _METRES_PER_DEG_LAT
    lon = ORIGIN_LON + x / (_METRES_PER_DEG_LAT * math.cos(math.radians(ORIGIN_LAT)))
    return round(lat, 6), round(lon, 6)


def _hood_origin(index: int) -> tuple[float, float]:
    col, row = index % 2, index // 2
    return col * (_HOOD_W + _SPINE), row * (_HOOD_H + _SPINE)


def _plot_centre(col: int, row: int) -> tuple[float, float]:
    x = col * _PLOT_W + (col // 3) * _STREET + _PLOT_W / 2
    y = row * _PLOT_H + (row // 4) * _STREET + _PLOT_H / 2
    return x, y


def _residential(plan: SitePlan, rng: random.Random) -> None:
    number = 0
    for hood, (zone, count) in enumerate(zip(NEIGHBOURHOODS, BLOCKS_PER_NEIGHBOURHOOD,
                                             strict=True)):
        ox, oy = _hood_origin(hood)
        plots = [(c, r) for r in range(_ROWS) for c in range(_COLS)]
        for col, row in plots[:count]:  # a missing last plot is the playground
            number += 1
            px, py = _plot_centre(col, row)
            floors = rng.randint(12, 32)
            building = BuildingPlan(f"B{number:03d}", f"Block {number}", "residential", zone,
                                    ox + px, oy + py, floors, 2 if rng.random() < 0.3 else 1)
            plan.buildings.append(building)
            _block_cameras_and_doors(plan, building, rng)


def _cam(plan: SitePlan, b: BuildingPlan, suffix: str, label: str, dx: float, dy: float,
         **kw: Any) -> str:
    camera = CameraPlan(f"{b.id}-{suffix}", f"{b.name} {label}", b.id, b.zone,
                        b.x + dx, b.y + dy, **kw)
    plan.cameras.append(camera)
    return camera.id


def _block_cameras_and_doors(plan: SitePlan, b: BuildingPlan, rng: random.Random) -> None:
    for k in range(1, b.entrances + 1):
        side = -1 if k == 1 else 1  # entrance 1 faces south, entrance 2 north
        ent = _cam(plan, b, f"ent{k}", f"entrance {k}", 0, side * 15, zones=f"approach@night="
                   f"{ENTRANCE_ZONE}")
        seen_by = [ent, f"{b.id}-lobby"] if k == 1 else [ent]
        plan.doors.append(DoorPlan(f"{b.id}-door{k}", f"{b.name} entrance {k}", b.id, b.zone,
                                   b.x, b.y + side * 12, seen_by, 30.0))
    _cam(plan, b, "lobby", "lobby", 0, -8)
    for k in range(1, (2 if b.floors > 20 else 1) + 1):
        _cam(plan, b, f"lift{k}", f"lift {k}", 3 * k, 0, detect_fps=3.0)
    for k in range(1, rng.randint(1, 3) + 1):
        _cam(plan, b, f"park{k}", f"car park {k}", -10 + 10 * k, 5, floor=-1)
    corners = [(-18, -20), (18, -20), (18, 20), (-18, 20)]
    for k, (dx, dy) in enumerate(corners[: rng.randint(2, 4)], start=1):
        _cam(plan, b, f"per{k}", f"perimeter {k}", dx, dy, masks=PERIMETER_MASK)


def _facility(plan: SitePlan, bid: str, name: str, kind: str, zone: str, x: float, y: float,
              doors: Sequence[tuple[str, float, str | None]], inside: Sequence[tuple[str, int]],
              rng: random.Random) -> None:
    """A facility: ``doors`` as (label, held-open seconds, schedule), ``inside`` cameras as
    (label, count)."""
    b = BuildingPlan(bid, name, kind, zone, x, y, 1 if kind == "gate" else 3, len(doors))
    plan.buildings.append(b)
    for k, (label, held, schedule) in enumerate(doors, start=1):
        side = -1 if k % 2 else 1
        ent = _cam(plan, b, f"ent{k}", label, 4 * k, side * 20,
                   zones=f"approach@night={ENTRANCE_ZONE}")
        plan.doors.append(DoorPlan(f"{bid}-door{k}", f"{name} {label}", bid, zone,
                                   x + 4 * k, y + side * 18, [ent], held, schedule))
    for label, count in inside:
        slug = "".join(word[:4] for word in label.split())
        for k in range(1, count + 1):
            _cam(plan, b, f"{slug}{k}", f"{label} {k}", rng.uniform(-25, 25),
                 rng.uniform(-25, 25), floor=rng.randint(0, b.floors - 1) if kind == "school"
                 else 0, masks=PERIMETER_MASK if label == "perimeter" else "")


def _facilities(plan: SitePlan, rng: random.Random) -> None:
    mid_x = _HOOD_W + _SPINE / 2
    mid_y = _HOOD_H + _SPINE / 2
    school = [("corridor", 8), ("playground", 4), ("perimeter", 6)]
    school_doors: list[tuple[str, float, str | None]] = [
        ("main gate", 60.0, "school-hours"), ("side gate", 60.0, "school-hours")]
    _facility(plan, "SCH1", "Riverside Primary School", "school", NEIGHBOURHOODS[0],
              mid_x, _HOOD_H * 0.4, school_doors, school, rng)
    _facility(plan, "SCH2", "Hillcrest Primary School", "school", NEIGHBOURHOODS[2],
              mid_x, mid_y + _HOOD_H * 0.6, school_doors, school, rng)
    _facility(plan, "SCH3", "Parkview Secondary School", "school", NEIGHBOURHOODS[1],
              mid_x + _HOOD_W * 0.6, mid_y, school_doors, school, rng)
    _facility(plan, "MKT", "Wet market", "market", NEIGHBOURHOODS[3], mid_x, mid_y,
              [("north shutter", 120.0, "market-hours"), ("south shutter", 120.0, "market-hours"),
               ("loading bay", 300.0, "market-hours")],
              [("aisle", 12), ("loading", 2), ("perimeter", 4)], rng)
    _facility(plan, "HC", "Health centre", "health", NEIGHBOURHOODS[0], _HOOD_W * 0.4, mid_y,
              [("main door", 45.0, "clinic-hours"), ("staff door", 30.0, None)],
              [("waiting", 2), ("corridor", 4), ("pharmacy", 1), ("perimeter", 3)], rng)
    width, height = 2 * _HOOD_W + _SPINE, 2 * _HOOD_H + _SPINE
    gates = [("GATE-S", "South gate (main)", NEIGHBOURHOODS[0], mid_x, -15.0, None),
             ("GATE-N", "North gate", NEIGHBOURHOODS[3], mid_x, height + 15, "side-gate-hours"),
             ("GATE-W", "West gate", NEIGHBOURHOODS[2], -15.0, mid_y, "side-gate-hours"),
             ("GATE-E", "East gate", NEIGHBOURHOODS[1], width + 15, mid_y, "side-gate-hours")]
    for bid, name, zone, x, y, schedule in gates:
        _facility(plan, bid, name, "gate", zone, x, y, [("turnstile", 20.0, schedule)],
                  [("vehicle in", 1), ("vehicle out", 1), ("overview", 2)], rng)


def build_plan(seed: int = SEED) -> SitePlan:
    """The whole compound, deterministic for a seed."""
    rng = random.Random(seed)
    plan = SitePlan()
    _residential(plan, rng)
    _facilities(plan, rng)
    return plan


def _camera_rows(plan: SitePlan) -> list[dict[str, str]]:
    rows = []
    for n, cam in enumerate(plan.cameras):
        nvr = n // CAMERAS_PER_NVR + 1
        base = f"rtsp://nvr-{nvr}.cameras.compound.local:554/{cam.id}"
        lat, lon = to_lat_lon(cam.x, cam.y)
        rows.append({
            "id": cam.id, "name": cam.name, "main_url": f"{base}/main", "sub_url": f"{base}/sub",
            "building": cam.building, "floor": str(cam.floor), "zone": cam.zone,
            "lat": f"{lat:.6f}", "lon": f"{lon:.6f}", "detect_fps": f"{cam.detect_fps:g}",
            "record": "", "sees_doors": "", "masks": cam.masks, "zones": cam.zones,
        })
    return rows


def _door_entry(door: DoorPlan) -> dict[str, Any]:
    lat, lon = to_lat_lon(door.x, door.y)
    entry: dict[str, Any] = {
        "id": door.id, "name": door.name,
        "location": {"building": door.building, "floor": 0, "zone": door.zone,
                     "lat": lat, "lon": lon},
        "cameras": door.cameras, "held_open_seconds": door.held_open_seconds,
    }
    if door.schedule:
        entry["schedule"] = door.schedule
    return entry


def render(plan: SitePlan, seed: int = SEED, csv_name: str = "cameras.csv") -> tuple[str, str]:
    """The site YAML and the camera CSV, as text."""
    document: dict[str, Any] = {
        "name": "Reference compound (generated)",
        "timezone": TIMEZONE,
        "camera_files": [{"path": csv_name}],
        "schedules": SCHEDULES,
        "retention": {"recordings_days": 30, "snapshots_days": 90},
        "edge": {"segment_seconds": 10, "door_listener": False},
        "doors": [_door_entry(d) for d in plan.doors],
    }
    header = (
        "# The reference compound: generated by `python -m deploy.gen_site --out deploy/site`\n"
        f"# (seed {seed}); do not edit by hand. {len(plan.buildings)} buildings, "
        f"{len(plan.cameras)} cameras (in {csv_name}), {len(plan.doors)} doors.\n"
    )
    text = header + yaml.safe_dump(document, sort_keys=False, default_flow_style=None,
                                   width=200, allow_unicode=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows(_camera_rows(plan))
    return text, buffer.getvalue()


def generate(out: Path, seed: int = SEED) -> SitePlan:
    """Write ``compound.yaml`` and ``cameras.csv`` into ``out``; return the plan."""
    plan = build_plan(seed)
    site_text, csv_text = render(plan, seed)
    out.mkdir(parents=True, exist_ok=True)
    (out / "compound.yaml").write_text(site_text, encoding="utf-8")
    (out / "cameras.csv").write_text(csv_text, encoding="utf-8")
    return plan


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m deploy.gen_site --out DIR [--seed N]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("deploy/site"))
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    plan = generate(args.out, args.seed)
    residential = sum(1 for b in plan.buildings if b.kind == "residential")
    sys.stdout.write(
        f"wrote {args.out}/compound.yaml and cameras.csv: {residential} residential blocks, "
        f"{len(plan.buildings) - residential} facilities, {len(plan.cameras)} cameras, "
        f"{len(plan.doors)} doors\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
