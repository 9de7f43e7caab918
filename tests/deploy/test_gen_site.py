"""The reference-site generator: the compound's shape, and the committed files are its output."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import pytest

from compoundeye.site import Site, load_site
from deploy import gen_site

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
    assert {c.location.zone for c in site.cameras} == set(gen_site.NEIGHBOURHOODS)
    assert len(gen_site.NEIGHBOURHOODS) == 4
    kinds = Counter(b.kind for b in plan.buildings)
    assert kinds["school"] == 3
    assert kinds["market"] == 1
    assert kinds["health"] == 1
    assert kinds["gate"] >= 2
    assert buildings == {b.id for b in plan.buildings}
    assert len(site.cameras) >= 2400
    # Blocks with two entrances exist, and every entrance of every building has a door.
    assert {b.entrances for b in plan.buildings if b.kind == "residential"} == {1, 2}
    doors_per_building = Counter(d.location.building for d in site.doors)
    for building in plan.buildings:
        assert doors_per_building[building.id] == building.entrances, building.id


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
    # About 1 km across: 0.002 to 0.012 degrees, near the chosen origin.
    assert 0.002 < max(lats) - min(lats) < 0.012
    assert 0.002 < max(lons) - min(lons) < 0.012
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
