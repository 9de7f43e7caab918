"""Search by place and window: door, radius, building, zone, ids; coverage and gaps."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from compoundeye.recordings import UnsafePathError, segment_path
from compoundeye.site.models import Site
from evidence.search import CameraCoverage, Place, SearchError, haversine_m, search_coverage
from evidence.segments import select
from tests.evidence.conftest import DOOR_LAT, DOOR_LON, T0, offset


def _ids(results: list[CameraCoverage]) -> set[str]:
    return {r.camera_id for r in results}


def test_haversine_matches_known_distances() -> None:
    lat, lon = offset(DOOR_LAT, DOOR_LON, 30, 0)
    assert haversine_m(DOOR_LAT, DOOR_LON, lat, lon) == pytest.approx(30, abs=0.1)
    # one degree of latitude is about 111.2 km
    assert haversine_m(0, 0, 1, 0) == pytest.approx(111_195, rel=1e-3)


def test_door_search_is_configured_cameras_plus_radius(export_site: Site, tmp_path: Path) -> None:
    results = search_coverage(export_site, tmp_path, T0, T0 + timedelta(minutes=30),
                              Place(door="door-east", radius_m=50))
    assert _ids(results) == {"cam-door", "cam-sees", "cam-near", "cam-edge"}
    by_id = {r.camera_id: r for r in results}
    assert by_id["cam-door"].matched_by == "sees door"
    assert by_id["cam-sees"].matched_by == "sees door"
    assert by_id["cam-near"].matched_by == "within radius of door"
    assert by_id["cam-near"].distance_m == pytest.approx(30, abs=0.5)
    assert by_id["cam-edge"].location.building == "B113"


def test_point_search_uses_the_radius(export_site: Site, tmp_path: Path) -> None:
    window = (T0, T0 + timedelta(minutes=5))
    assert _ids(search_coverage(export_site, tmp_path, *window,
                                Place(lat=DOOR_LAT, lon=DOOR_LON, radius_m=35))) == {"cam-near"}
    assert _ids(search_coverage(export_site, tmp_path, *window,
                                Place(lat=DOOR_LAT, lon=DOOR_LON, radius_m=100))) == {
        "cam-near", "cam-edge", "cam-far"}


def test_building_zone_and_ids(export_site: Site, tmp_path: Path) -> None:
    window = (T0, T0 + timedelta(minutes=5))
    assert _ids(search_coverage(export_site, tmp_path, *window, Place(building="B112"))) == {
        "cam-door", "cam-sees", "cam-near", "cam-far"}
    assert _ids(search_coverage(export_site, tmp_path, *window, Place(zone="road"))) == {
        "cam-edge"}
    assert _ids(search_coverage(export_site, tmp_path, *window,
                                Place(building="B112", zone="road"))) == set()
    found = search_coverage(export_site, tmp_path, *window, Place(camera_ids=["cam-far"]))
    assert [r.camera_id for r in found] == ["cam-far"]
    assert found[0].coverage == 0
    assert found[0].gaps[0].reason == "no recording"


def test_coverage_and_gaps_from_the_layout(export_site: Site, recorded: Path) -> None:
    root = recorded / "recordings"
    start, end = T0 - timedelta(seconds=30), T0 + timedelta(seconds=30)
    (result,) = search_coverage(export_site, root, start, end, Place(camera_ids=["cam-door"]))
    assert result.segments == 3
    assert result.recorded_seconds == pytest.approx(30)
    assert result.coverage == pytest.approx(0.5)
    assert [(g.start, g.end) for g in result.gaps] == [(start, T0)]
    assert [(c.start, c.end) for c in result.covered] == [(T0, end)]


def test_corrupt_and_empty_segments_are_gaps_with_reasons(export_site: Site, data_dir: Path
                                                          ) -> None:
    root = data_dir / "recordings"
    segment_path(root, "cam-door", T0 + timedelta(seconds=10)).write_bytes(b"garbage" * 100)
    segment_path(root, "cam-door", T0 + timedelta(seconds=30)).write_bytes(b"")
    (result,) = search_coverage(export_site, root, T0, T0 + timedelta(seconds=60),
                                Place(camera_ids=["cam-door"]))
    reasons = {(g.start, g.end): g.reason for g in result.gaps}
    assert set(reasons) == {(T0 + timedelta(seconds=10), T0 + timedelta(seconds=20)),
                            (T0 + timedelta(seconds=30), T0 + timedelta(seconds=40))}
    assert "not MPEG-TS" in str(reasons[(T0 + timedelta(seconds=10), T0 + timedelta(seconds=20))])
    assert "too short" in str(reasons[(T0 + timedelta(seconds=30), T0 + timedelta(seconds=40))])


def test_symlinked_directories_cannot_lead_outside(export_site: Site, data_dir: Path,
                                                   tmp_path: Path) -> None:
    root = data_dir / "recordings"
    outside = tmp_path / "outside"
    outside.mkdir()
    real = segment_path(root, "cam-door", T0)
    hour_dir = real.parent
    (outside / real.name).write_bytes(real.read_bytes())
    moved = tmp_path / "moved-hour"
    hour_dir.rename(moved)
    hour_dir.symlink_to(outside, target_is_directory=True)
    (result,) = search_coverage(export_site, root, T0, T0 + timedelta(seconds=10),
                                Place(camera_ids=["cam-door"]))
    assert result.segments == 0
    assert "outside the recordings directory" in str(result.gaps[0].reason)
    # a camera directory that is itself a symlink out of the root is not read at all
    (root / "cam-near").rename(tmp_path / "cam-near-real")
    (root / "cam-near").symlink_to(outside, target_is_directory=True)
    (near,) = search_coverage(export_site, root, T0, T0 + timedelta(seconds=10),
                              Place(camera_ids=["cam-near"]))
    assert near.segments == 0 and near.coverage == 0
    assert "recordings directory refused" in str(near.gaps[0].reason)
    with pytest.raises(UnsafePathError):
        select(root, "../cam-near", T0, T0 + timedelta(seconds=10))


@pytest.mark.parametrize("bad", ["../etc", "/etc/passwd", "..", ".", "cam\x00door", "a/b", ""])
def test_bad_camera_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError):
        Place(camera_ids=[bad])


def test_unknown_camera_or_door_and_bad_places(export_site: Site, tmp_path: Path) -> None:
    window = (T0, T0 + timedelta(minutes=5))
    with pytest.raises(SearchError, match="unknown camera"):
        search_coverage(export_site, tmp_path, *window, Place(camera_ids=["cam-nope"]))
    with pytest.raises(SearchError, match="unknown door"):
        search_coverage(export_site, tmp_path, *window, Place(door="door-nope"))
    with pytest.raises(ValidationError, match="exactly one place"):
        Place(door="door-east", building="B112")
    with pytest.raises(ValidationError, match="exactly one place"):
        Place()
    with pytest.raises(ValidationError, match="both lat and lon"):
        Place(lat=1.0)
    with pytest.raises(ValidationError):
        Place(door="../etc")


def test_bad_windows_are_refused(export_site: Site, tmp_path: Path) -> None:
    place = Place(building="B112")
    with pytest.raises(SearchError, match="after start"):
        search_coverage(export_site, tmp_path, T0, T0, place)
    with pytest.raises(SearchError, match="longer than"):
        search_coverage(export_site, tmp_path, T0, T0 + timedelta(days=2), place)
    with pytest.raises(SearchError, match="UTC offset"):
        search_coverage(export_site, tmp_path, T0.replace(tzinfo=None), T0 + timedelta(hours=1),
                        place)
