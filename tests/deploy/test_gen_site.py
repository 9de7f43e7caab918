"""The reference-site generator: the compound's shape, and the committed files are its output."""

from __future__ import annotations

import math
import re
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from compoundeye.site import Site, load_site
from deploy import gen_site
from detectors.doors import haversine_m

COMMITTED = Path(__file__).resolve().parents[2] / "deploy" / "site"
RESIDENTIAL = re.compile(r"^B\d{3}$")


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, gen_site.SitePlan, Site]:
    out = tmp_path_factory.mktemp("site")
    plan = gen_site.generate(out)
    return out, plan, load_site(out / "compound.yaml")


def test_counts_of_the_compound(generated: tuple[Path, gen_site.SitePlan, Site]) -> None:
    _, plan, site = generated
    buildings = {c.location.building for c in site.cameras}
    residential = {b for b in buildings if RESIDENTIAL.match(b)}
    assert len(residential) == 286
    residential_zones = {c.location.zone for c in site.cameras
                         if RESIDENTIAL.match(c.location.building)}
    assert residential_zones == set(gen_site.NEIGHBOURHOODS)
    assert len(gen_site.NEIGHBOURHOODS) == 4
    assert {c.location.zone for c in site.cameras} == {*gen_site.NEIGHBOURHOODS,
                                                         gen_site.ROAD_ZONE}
    kinds = Counter(b.kind for b in plan.buildings)
    assert kinds["school"] == 3
    assert kinds["market"] == 1
    assert kinds["supermarket"] == 3
    assert kinds["seniors"] == 1
    assert kinds["health"] == 1
    assert kinds["pond"] == 1
    assert kinds["bus_stop"] == 2
    assert kinds["road"] == 1
    assert kinds["gate"] >= 2
    assert buildings == {b.id for b in plan.buildings}
    # The scale bench and the capacity notes are sized for at least today's counts.
    assert len(site.cameras) >= 2639
    assert len(site.doors) >= 383
    # Blocks with two entrances exist, and every entrance of every building has a door.
    assert {b.entrances for b in plan.buildings if b.kind == "residential"} == {1, 2}
    doors_per_building = Counter(d.location.building for d in site.doors)
    for building in plan.buildings:
        assert doors_per_building[building.id] == building.entrances, building.id
    assert all(b.entrances >= 1 for b in plan.buildings
               if b.kind not in ("pond", "bus_stop", "road"))


def test_every_named_place_of_kangcheng_is_there(
        generated: tuple[Path, gen_site.SitePlan, Site]) -> None:
    _, plan, site = generated
    assert site.timezone == "Asia/Shanghai"
    assert "Kangcheng" in site.name and "Shanghai" in site.name
    names = [b.name for b in plan.buildings]
    by_kind = {kind: [b.name for b in plan.buildings if b.kind == kind]
               for kind in {b.kind for b in plan.buildings}}
    assert len([n for n in by_kind["school"] if "school" in n]) == 3
    assert by_kind["market"] == ["Wet market"]
    assert len([n for n in by_kind["supermarket"] if "Supermarket" in n]) == 3
    assert by_kind["seniors"] == ["Seniors' home"]
    assert by_kind["health"] == ["Community health centre"]
    assert by_kind["pond"] == ["Pond and musical fountain"]
    assert sum("Arch of Triumph" in n for n in names) == 1
    assert sum("side gate" in n for n in by_kind["gate"]) >= 2
    assert len([n for n in by_kind["bus_stop"] if "Bus stop" in n]) == 2
    assert by_kind["road"] == ["Xinsong Road"]
    # Every one of them is watched, and the main gate is on Xinsong Road.
    watched = {c.location.building for c in site.cameras}
    assert {b.id for b in plan.buildings} <= watched
    arch = next(b for b in plan.buildings if "Arch of Triumph" in b.name)
    assert arch.zone == gen_site.ROAD_ZONE
    road = next(b for b in plan.buildings if b.kind == "road")
    assert road.x > arch.x > max(b.x for b in plan.buildings if b.kind == "residential")


def test_schedules_are_local_time_and_modes_follow_them(
        generated: tuple[Path, gen_site.SitePlan, Site]) -> None:
    _, _, site = generated
    shanghai = ZoneInfo("Asia/Shanghai")
    # 23:00 in Shanghai is 15:00 UTC: night there, and the night schedule says so.
    late = datetime(2026, 11, 27, 23, 0, tzinfo=shanghai)
    noon = datetime(2026, 11, 27, 12, 0, tzinfo=shanghai)
    assert site.schedule_active("night", late)
    assert not site.schedule_active("night", noon)
    assert site.schedule_active("school-hours", datetime(2026, 11, 27, 8, 0, tzinfo=shanghai))
    assert not site.schedule_active("school-hours", datetime(2026, 11, 28, 8, 0,
                                                              tzinfo=shanghai))  # Saturday
    assert late.astimezone(UTC).hour == 15
    # Entrances need full-rate motion at night only; lifts never; lobbies always.
    entrance = site.camera("B001-ent1")
    lift = site.camera("B001-lift1")
    lobby = site.camera("B001-lobby")
    assert entrance and lift and lobby
    assert site.needs_full_rate(entrance, late) and not site.needs_full_rate(entrance, noon)
    assert site.detect_mode_of(lift) == "health"
    assert not site.needs_full_rate(lift, late)
    assert site.detect_mode_of(lobby) == "full" and site.needs_full_rate(lobby, noon)
    modes = Counter(site.detect_mode_of(c) for c in site.cameras)
    assert modes["health"] >= 286 and modes["armed"] >= 286 and modes["full"] >= 286


def test_every_door_is_seen_by_a_camera_of_its_building(
        generated: tuple[Path, gen_site.SitePlan, Site]) -> None:
    _, _, site = generated
    for door in site.doors:
        cameras = site.cameras_for_door(door.id)
        assert cameras, door.id
        for camera_id in cameras:
            camera = site.camera(camera_id)
            assert camera is not None
            assert camera.location.building == door.location.building
        assert door.held_open_seconds > 0


def test_kinds_of_cameras_per_block(generated: tuple[Path, gen_site.SitePlan, Site]) -> None:
    _, _, site = generated
    kinds = Counter(re.sub(r"\d+$", "", c.id.split("-", 1)[1])
                    for c in site.cameras if RESIDENTIAL.match(c.location.building))
    assert kinds["lobby"] == 286
    assert kinds["ent"] >= 286
    assert kinds["lift"] >= 286
    assert kinds["park"] >= 286
    assert kinds["per"] >= 2 * 286
    parking = [c for c in site.cameras if "-park" in c.id]
    assert all(c.location.floor == -1 for c in parking)


def test_schedules_zones_and_urls(generated: tuple[Path, gen_site.SitePlan, Site]) -> None:
    _, _, site = generated
    assert {"night", "school-hours", "market-hours"} <= set(site.schedules)
    school_doors = [d for d in site.doors if d.location.building.startswith("SCH")]
    assert len(school_doors) == 6
    assert {d.schedule for d in school_doors} == {"school-hours"}
    market_doors = [d for d in site.doors if d.location.building == "MKT"]
    assert {d.schedule for d in market_doors} == {"market-hours"}
    entrances = [c for c in site.cameras if re.search(r"-ent\d$", c.id)]
    assert entrances
    assert all(z.armed_schedule == "night" for c in entrances for z in c.zones)
    assert all(c.zones for c in entrances)
    url = re.compile(r"^rtsp://nvr-(\d+)\.cameras\.compound\.local:554/(.+)/(main|sub)$")
    for camera in site.cameras:
        main, sub = url.match(camera.main_url), url.match(camera.sub_url)
        assert main and sub, camera.id
        assert main[2] == sub[2] == camera.id
        assert (main[3], sub[3]) == ("main", "sub")
    per_nvr = Counter(url.match(c.main_url)[1] for c in site.cameras)  # type: ignore[index]
    assert max(per_nvr.values()) <= gen_site.CAMERAS_PER_NVR


def test_coordinates_are_a_plausible_compound(
        generated: tuple[Path, gen_site.SitePlan, Site]) -> None:
    _, _, site = generated
    points = [(c.location.lat, c.location.lon) for c in site.cameras] + [
        (d.location.lat, d.location.lon) for d in site.doors]
    lats, lons = [p[0] for p in points], [p[1] for p in points]
    # Kangcheng, Xinzhuang: around 31.11 N 121.38 E, about a kilometre each way.
    assert 31.10 < min(lats) < max(lats) < 31.12
    assert 121.37 < min(lons) < max(lons) < 121.39
    centre = ((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2)
    assert haversine_m(*centre, 31.11, 121.38) < 300
    north_south = haversine_m(min(lats), centre[1], max(lats), centre[1])
    east_west = haversine_m(centre[0], min(lons), centre[0], max(lons))
    assert 800 < north_south < 1300
    assert 800 < east_west < 1300
    assert abs(min(lats) - gen_site.ORIGIN_LAT) < 0.001
    assert abs(min(lons) - gen_site.ORIGIN_LON) < 0.001
    # Buildings do not sit on top of each other: centres at least 30 m apart.
    centres = [(b.x, b.y) for b in gen_site.build_plan().buildings]
    closest = min(math.dist(a, b) for i, a in enumerate(centres) for b in centres[i + 1:])
    assert closest >= 30


def test_generation_is_deterministic_and_the_committed_files_are_current(
        generated: tuple[Path, gen_site.SitePlan, Site], tmp_path: Path) -> None:
    out, _, _ = generated
    gen_site.generate(tmp_path)
    for name in ("compound.yaml", "cameras.csv"):
        again = (tmp_path / name).read_bytes()
        assert again == (out / name).read_bytes(), name
        assert again == (COMMITTED / name).read_bytes(), (
            f"deploy/site/{name} is stale: run python -m deploy.gen_site --out deploy/site")
    other = gen_site.render(gen_site.build_plan(seed=7), seed=7)[1]
    assert other != (out / "cameras.csv").read_text()


def test_committed_site_is_small_enough_for_a_configmap() -> None:
    total = sum(p.stat().st_size for p in COMMITTED.iterdir())
    assert total < 900_000  # a Kubernetes ConfigMap holds at most 1 MiB


def test_cli_writes_the_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert gen_site.main(["--out", str(tmp_path / "x")]) == 0
    assert (tmp_path / "x" / "compound.yaml").is_file()
    assert "286 residential blocks" in capsys.readouterr().out
