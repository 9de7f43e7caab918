"""Generate the reference compound's site config: ``compound.yaml`` and ``cameras.csv``.

``python -m deploy.gen_site --out deploy/site``

Kangcheng, in Xinzhuang town, Minhang District, Shanghai (``Asia/Shanghai``, around
31.11 N, 121.38 E, about a kilometre across): 286 residential buildings in four
sub-neighbourhoods laid out on street grids around two central avenues; on the avenues
three schools, the wet market, three supermarkets, a seniors' home and the community
health centre, and where they cross the pond with its musical fountain; the main gate,
the "Arch of Triumph", on Xinsong Road along the east edge, with two bus stops beside it,
and three side gates. More than 2,400 cameras (entrances, lobbies, lifts, car parks,
perimeters, facilities, the pond, the road; kept in the CSV file as a real site keeps them
in a spreadsheet) and a door controller at every entrance. The layout is generated, not
surveyed: the counts and the named places are the compound's, the positions a plausible
plan of them. Seeded: the same seed writes the same bytes.
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
SITE_NAME = "Kangcheng, Xinzhuang, Minhang District, Shanghai"
CENTRE_LAT, CENTRE_LON = 31.1100, 121.3800
"""The compound's centre (the pond), WGS84."""
TIMEZONE = "Asia/Shanghai"
NEIGHBOURHOODS = ("kangcheng-sw", "kangcheng-se", "kangcheng-nw", "kangcheng-ne")
ROAD_ZONE = "xinsong-road"
"""The ``location.zone`` of what stands outside the compound on Xinsong Road."""
BLOCKS_PER_NEIGHBOURHOOD = (72, 72, 71, 71)
CAMERAS_PER_NVR = 64
_METRES_PER_DEG_LAT = 111_320.0

# Street grid of one neighbourhood: 9 x 8 plots, a street after every 3 columns / 4 rows.
_COLS, _ROWS = 9, 8
_PLOT_W, _PLOT_H, _STREET = 42.0, 48.0, 18.0
_HOOD_W = _COLS * _PLOT_W + 2 * _STREET
_HOOD_H = _ROWS * _PLOT_H + 1 * _STREET
_SPINE = 120.0  # the central avenues between neighbourhoods, where the facilities are
WIDTH, HEIGHT = 2 * _HOOD_W + _SPINE, 2 * _HOOD_H + _SPINE
"""The compound inside its fence, metres (Xinsong Road runs outside the east edge)."""
_ROAD_X = WIDTH + 50.0

ORIGIN_LAT = CENTRE_LAT - (HEIGHT / 2) / _METRES_PER_DEG_LAT
ORIGIN_LON = CENTRE_LON - (WIDTH / 2) / (_METRES_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT)))
"""The south-west corner of the compound, WGS84 (local coordinates start there)."""

ENTRANCE_ZONE = "0.05 0.45;0.95 0.45;0.95 1;0.05 1"
PERIMETER_MASK = "0 0;1 0;1 0.15;0 0.15"
FENCE_ZONE = "0 0.15;1 0.15;1 1;0 1"
WATER_EDGE_ZONE = "0 0.5;1 0.5;1 1;0 1"

SCHEDULES: dict[str, Any] = {
    "night": {"ranges": [{"start": "22:00", "end": "06:00"}]},
    "school-hours": {"ranges": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "07:00", "end": "17:30"},
    ]},
    "market-hours": {"ranges": [{"start": "05:30", "end": "19:00"}]},
    "supermarket-hours": {"ranges": [{"start": "07:00", "end": "22:00"}]},
    "clinic-hours": {"ranges": [
        {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "17:00"},
        {"days": ["sat", "sun"], "start": "08:00", "end": "12:00"},
    ]},
    "visiting-hours": {"ranges": [{"start": "09:00", "end": "20:00"}]},
    "side-gate-hours": {"ranges": [{"start": "05:30", "end": "23:00"}]},
    "fountain-shows": {"ranges": [
        {"start": "19:00", "end": "21:00"},
        {"days": ["sat", "sun"], "start": "10:00", "end": "11:00"},
    ]},
}
"""Local time (Asia/Shanghai). ``fountain-shows`` names when the musical fountain plays
(crowds at the pond: nothing arms on it); ``night`` arms the entrance, fence and
water's-edge zones."""

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
    detect_mode: str = ""
    """Empty: the edge default (``armed``); ``health`` for cameras no motion alert needs."""


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
    kind: str  # residential, school, market, supermarket, seniors, health, gate, pond, ...
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
    lon = ORIGIN_LON + x / (_METRES_PER_DEG_LAT * math.cos(math.radians(CENTRE_LAT)))
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
        # Lifts are never armed: people in them are the normal case. Health mode watches
        # them for tamper and outages at a fraction of the decoding.
        _cam(plan, b, f"lift{k}", f"lift {k}", 3 * k, 0, detect_fps=3.0, detect_mode="health")
    for k in range(1, rng.randint(1, 3) + 1):
        _cam(plan, b, f"park{k}", f"car park {k}", -10 + 10 * k, 5, floor=-1)
    corners = [(-18, -20), (18, -20), (18, 20), (-18, 20)]
    for k, (dx, dy) in enumerate(corners[: rng.randint(2, 4)], start=1):
        _cam(plan, b, f"per{k}", f"perimeter {k}", dx, dy, masks=PERIMETER_MASK,
             zones=f"fence@night={FENCE_ZONE}")


Door = tuple[str, float, str | None]
"""A facility door: label, held-open seconds, access schedule."""
Inside = tuple[str, int, str]
"""Cameras of a facility: label, count, zones cell (``name@schedule=polygon`` or empty)."""


def _facility(plan: SitePlan, bid: str, name: str, kind: str, zone: str, xy: tuple[float, float],
              doors: Sequence[Door], inside: Sequence[Inside], rng: random.Random,
              floors: int = 3) -> None:
    """A facility: ``doors`` as (label, held-open seconds, schedule), ``inside`` cameras as
    (label, count, zones)."""
    x, y = xy
    b = BuildingPlan(bid, name, kind, zone, x, y, floors, len(doors))
    plan.buildings.append(b)
    for k, (label, held, schedule) in enumerate(doors, start=1):
        side = -1 if k % 2 else 1
        ent = _cam(plan, b, f"ent{k}", label, 4 * k, side * 20,
                   zones=f"approach@night={ENTRANCE_ZONE}")
        plan.doors.append(DoorPlan(f"{bid}-door{k}", f"{name} {label}", bid, zone,
                                   x + 4 * k, y + side * 18, [ent], held, schedule))
    for label, count, zones in inside:
        slug = "".join(word[:4] for word in label.split())
        for k in range(1, count + 1):
            _cam(plan, b, f"{slug}{k}", f"{label} {k}", rng.uniform(-25, 25),
                 rng.uniform(-25, 25), floor=rng.randint(0, b.floors - 1) if kind == "school"
                 else 0, masks=PERIMETER_MASK if label == "perimeter" else "", zones=zones)


_FENCE = f"fence@night={FENCE_ZONE}"
_SCHOOL: list[Inside] = [("corridor", 8, ""), ("playground", 4, ""), ("perimeter", 6, _FENCE)]
_SCHOOL_DOORS: list[Door] = [("main gate", 60.0, "school-hours"),
                             ("side gate", 60.0, "school-hours")]
_SHOP: list[Inside] = [("checkout", 4, ""), ("aisle", 6, ""), ("stockroom", 1, "")]
_SHOP_DOORS: list[Door] = [("entrance", 60.0, "supermarket-hours"),
                           ("goods door", 300.0, None)]


def _avenue(along: str, fraction: float, north_or_east: bool) -> tuple[float, float]:
    """A point on one of the two central avenues: ``along`` "ns" (x fixed at the middle)
    or "ew"; ``fraction`` of the way through the neighbourhood on that side."""
    if along == "ns":
        y = (_HOOD_H + _SPINE if north_or_east else 0.0) + fraction * _HOOD_H
        return WIDTH / 2, y
    x = (_HOOD_W + _SPINE if north_or_east else 0.0) + fraction * _HOOD_W
    return x, HEIGHT / 2


def _facilities(plan: SitePlan, rng: random.Random) -> None:
    sw, se, nw, ne = NEIGHBOURHOODS
    # The avenue south of the pond.
    _facility(plan, "SCH1", "Kangcheng primary school no. 1", "school", sw,
              _avenue("ns", 0.2, False), _SCHOOL_DOORS, _SCHOOL, rng)
    _facility(plan, "CHC", "Community health centre", "health", se, _avenue("ns", 0.5, False),
              [("main door", 45.0, "clinic-hours"), ("staff door", 30.0, None)],
              [("waiting", 2, ""), ("corridor", 4, ""), ("pharmacy", 1, ""),
               ("perimeter", 3, _FENCE)], rng)
    _facility(plan, "SM1", "Supermarket (south)", "supermarket", sw, _avenue("ns", 0.8, False),
              _SHOP_DOORS, _SHOP, rng, floors=1)
    # The avenue north of the pond.
    _facility(plan, "SEN", "Seniors' home", "seniors", nw, _avenue("ns", 0.2, True),
              [("main door", 60.0, "visiting-hours"), ("garden door", 60.0, "visiting-hours")],
              [("corridor", 6, ""), ("day room", 2, ""), ("garden", 2, "")], rng, floors=4)
    _facility(plan, "SCH2", "Kangcheng primary school no. 2", "school", ne,
              _avenue("ns", 0.5, True), _SCHOOL_DOORS, _SCHOOL, rng)
    _facility(plan, "SM2", "Supermarket (north)", "supermarket", nw, _avenue("ns", 0.8, True),
              _SHOP_DOORS, _SHOP, rng, floors=1)
    # The avenue west of the pond.
    _facility(plan, "SCH3", "Kangcheng middle school", "school", nw, _avenue("ew", 0.3, False),
              _SCHOOL_DOORS, _SCHOOL, rng)
    _facility(plan, "SM3", "Supermarket (west)", "supermarket", sw, _avenue("ew", 0.7, False),
              _SHOP_DOORS, _SHOP, rng, floors=1)
    # The avenue east of the pond, from the main gate.
    _facility(plan, "MKT", "Wet market", "market", se, _avenue("ew", 0.35, True),
              [("north shutter", 120.0, "market-hours"), ("south shutter", 120.0, "market-hours"),
               ("loading bay", 300.0, "market-hours")],
              [("aisle", 12, ""), ("loading", 2, ""), ("perimeter", 4, _FENCE)], rng, floors=1)
    # Where the avenues cross: the pond and its musical fountain (no doors).
    _facility(plan, "POND", "Pond and musical fountain", "pond", ne, (WIDTH / 2, HEIGHT / 2), [],
              [("water's edge", 6, f"water@night={WATER_EDGE_ZONE}"), ("fountain plaza", 2, ""),
               ("footbridge", 2, "")], rng, floors=1)
    gates: list[tuple[str, str, str, tuple[float, float], str | None]] = [
        ("GATE-ARCH", 'Main gate "Arch of Triumph" (Xinsong Road)', ROAD_ZONE,
         (WIDTH + 15.0, HEIGHT / 2), None),
        ("GATE-N", "North side gate", nw, (WIDTH / 2, HEIGHT + 15.0), "side-gate-hours"),
        ("GATE-S", "South side gate", sw, (WIDTH / 2, -15.0), "side-gate-hours"),
        ("GATE-W", "West side gate", nw, (-15.0, HEIGHT / 2), "side-gate-hours"),
    ]
    for bid, name, zone, xy, schedule in gates:
        main = bid == "GATE-ARCH"
        doors: list[Door] = [("turnstile", 20.0, schedule)]
        if main:
            doors += [("pedestrian gate", 20.0, None), ("vehicle barrier in", 15.0, None),
                      ("vehicle barrier out", 15.0, None)]
        inside: list[Inside] = [("vehicle in", 2 if main else 1, ""),
                                ("vehicle out", 2 if main else 1, ""),
                                ("overview", 4 if main else 2, ""),
                                ("plate reader", 2 if main else 0, "")]
        _facility(plan, bid, name, "gate", zone, xy, doors, inside, rng, floors=1)
    # Outside the east fence: Xinsong Road, its two bus stops, cameras along the kerb.
    for bid, name, dy in (("BUS-N", "Bus stop Xinsong Road (north)", 180.0),
                          ("BUS-S", "Bus stop Xinsong Road (south)", -180.0)):
        _facility(plan, bid, name, "bus_stop", ROAD_ZONE, (_ROAD_X, HEIGHT / 2 + dy), [],
                  [("shelter", 2, "")], rng, floors=1)
    road = BuildingPlan("ROAD-XS", "Xinsong Road", "road", ROAD_ZONE, _ROAD_X, HEIGHT / 2, 1, 0)
    plan.buildings.append(road)
    for k in range(1, 9):
        _cam(plan, road, f"kerb{k}", f"kerb camera {k}", 0.0, (k - 4.5) * HEIGHT / 8)


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
            "detect_mode": cam.detect_mode,
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
        "name": SITE_NAME,
        "timezone": TIMEZONE,
        "camera_files": [{"path": csv_name}],
        "schedules": SCHEDULES,
        "retention": {"recordings_days": 30, "snapshots_days": 90},
        "edge": {"segment_seconds": 10, "door_listener": False, "detect_mode": "armed",
                 "health": {"keyframe_interval_seconds": 4.0}},
        "doors": [_door_entry(d) for d in plan.doors],
    }
    header = (
        f"# The reference compound, {SITE_NAME}.\n"
        "# Generated by `python -m deploy.gen_site --out deploy/site`"
        f" (seed {seed}); do not edit by hand.\n# {len(plan.buildings)} buildings, "
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
