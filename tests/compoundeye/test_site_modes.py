"""Detect modes in the site file: full, health, armed; validated, resolved, scheduled."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from compoundeye.site import SiteConfigError, load_site
from compoundeye.site.models import Camera, Edge, Site

SHANGHAI = ZoneInfo("Asia/Shanghai")
LOC = {"building": "B001", "lat": 31.11, "lon": 121.38}
NIGHT_ZONE = {"name": "approach", "armed_schedule": "night",
              "polygon": [[0, 0.5], [1, 0.5], [1, 1], [0, 1]]}


def camera(cid: str = "cam-1", **kw: object) -> dict[str, object]:
    return {"id": cid, "main_url": f"rtsp://nvr-1:554/{cid}/main", "location": LOC, **kw}


def site(*cameras: dict[str, object], edge: dict[str, object] | None = None) -> Site:
    return Site.model_validate({
        "timezone": "Asia/Shanghai", "cameras": list(cameras), "edge": edge or {},
        "schedules": {"night": {"ranges": [{"start": "22:00", "end": "06:00"}]}}})


def test_unknown_mode_is_refused_by_the_models() -> None:
    with pytest.raises(ValidationError) as info:
        Camera.model_validate(camera(detect_mode="keyframes"))
    assert "detect_mode" in str(info.value)
    with pytest.raises(ValidationError):
        Edge.model_validate({"detect_mode": "sometimes"})
    with pytest.raises(ValidationError):
        Edge.model_validate({"health": {"keyframe_interval_seconds": 0}})
    with pytest.raises(ValidationError):
        Edge.model_validate({"health": {"every": 3}})  # extra keys are errors


def test_armed_without_an_armed_zone_is_an_error_that_says_why() -> None:
    with pytest.raises(ValidationError) as info:
        Camera.model_validate(camera(detect_mode="armed"))
    assert "armed_schedule" in str(info.value)
    assert Camera.model_validate(camera(detect_mode="armed", zones=[NIGHT_ZONE]))


def test_modes_resolve_from_the_camera_then_the_edge_default() -> None:
    s = site(camera("plain"), camera("zoned", zones=[NIGHT_ZONE]),
             camera("lift", detect_mode="health"), camera("always", detect_mode="full",
                                                           zones=[NIGHT_ZONE]),
             edge={"detect_mode": "armed"})
    modes = {c.id: s.detect_mode_of(c) for c in s.cameras}
    # "armed" as the edge default leaves a camera without an armed zone at full rate.
    assert modes == {"plain": "full", "zoned": "armed", "lift": "health", "always": "full"}
    night = datetime(2026, 11, 27, 23, 30, tzinfo=SHANGHAI)
    day = datetime(2026, 11, 27, 10, 0, tzinfo=SHANGHAI)
    full_at = {c.id: (s.needs_full_rate(c, night), s.needs_full_rate(c, day))
               for c in s.cameras}
    assert full_at == {"plain": (True, True), "zoned": (True, False), "lift": (False, False),
                       "always": (True, True)}
    assert site(camera()).detect_mode_of(site(camera()).cameras[0]) == "full"  # the default


def test_the_csv_column_sets_the_mode_and_a_bad_one_names_row_and_column(
        tmp_path: Path) -> None:
    (tmp_path / "site.yaml").write_text(
        "timezone: Asia/Shanghai\ncamera_files: [{path: cams.csv}]\n")
    header = "id,main_url,building,lat,lon,detect_mode\n"
    (tmp_path / "cams.csv").write_text(
        header + "c1,rtsp://x/1,B1,31.11,121.38,health\nc2,rtsp://x/2,B1,31.11,121.38,\n")
    loaded = load_site(tmp_path / "site.yaml")
    assert [c.detect_mode for c in loaded.cameras] == ["health", None]
    (tmp_path / "cams.csv").write_text(header + "c1,rtsp://x/1,B1,31.11,121.38,sometimes\n")
    with pytest.raises(SiteConfigError) as info:
        load_site(tmp_path / "site.yaml")
    assert "row 2" in str(info.value) and "detect_mode" in str(info.value)
