"""The site models: polygons, unknown keys, defaults, schedules, cached indexes."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from compoundeye.site.errors import pydantic_errors
from compoundeye.site.models import (
    Camera,
    Door,
    Location,
    Schedule,
    Site,
    TimeRange,
    Zone,
    is_valid_id,
)

LOC = {"building": "B001", "lat": 31.11, "lon": 121.38}


def camera(**kw: object) -> dict[str, object]:
    return {"id": "cam-1", "main_url": "rtsp://nvr-1:554/cam-1/main", "location": LOC, **kw}


def paths_and_messages(exc: ValidationError, model: type[Site] | type[Camera]) -> dict[str, str]:
    return {e.where: e.message for e in pydantic_errors(exc, model=model)}


def test_polygon_outside_the_frame_is_an_error_naming_the_point() -> None:
    with pytest.raises(ValidationError) as info:
        Camera.model_validate(camera(
            zones=[{"name": "door", "polygon": [[0, 0], [1.2, 0], [1, 1]]}]))
    errors = paths_and_messages(info.value, Camera)
    assert "zones[0].polygon" in errors
    assert "(1.2, 0.0)" in errors["zones[0].polygon"]
    assert "0..1" in errors["zones[0].polygon"]


@pytest.mark.parametrize("points", [[[0, 0], [1, 0]], [[0, 0], [1, -0.1], [1, 1]],
                                    [[0, 0], [1, 0], [float("nan"), 1]]])
def test_masks_must_be_polygons_inside_the_frame(points: list[list[float]]) -> None:
    with pytest.raises(ValidationError) as info:
        Camera.model_validate(camera(masks=[points]))
    assert list(paths_and_messages(info.value, Camera)) == ["masks[0]"]


def test_polygon_on_the_frame_edges_is_accepted() -> None:
    cam = Camera.model_validate(camera(masks=[[[0, 0], [1, 0], [1, 1], [0, 1]]]))
    assert cam.masks[0][2] == (1.0, 1.0)


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ({"bogus": 1}, "bogus"),
        ({"retention": {"recordings_day": 3}}, "retention.recordings_day"),
        ({"cameras": [camera(location={**LOC, "room": "x"})]}, "cameras[0].location.room"),
        ({"cameras": [camera(zones=[{"name": "z", "polygon": [[0, 0], [1, 0], [1, 1]],
                                     "armed": "night"}])]}, "cameras[0].zones[0].armed"),
        ({"schedules": {"night": {"ranges": [{"start": "22:00", "stop": "06:00"}]}}},
         "schedules.night.ranges[0].stop"),
        ({"doors": [{"id": "d1", "location": LOC, "camera": ["a"]}]}, "doors[0].camera"),
    ],
)
def test_unknown_key_anywhere_names_its_path(document: dict[str, object], path: str) -> None:
    with pytest.raises(ValidationError) as info:
        Site.model_validate(document)
    assert paths_and_messages(info.value, Site) == {path: "unknown key"}


def test_missing_required_key_says_why_it_is_required() -> None:
    with pytest.raises(ValidationError) as info:
        Site.model_validate({"cameras": [{"id": "c1", "location": LOC}]})
    message = paths_and_messages(info.value, Site)["cameras[0].main_url"]
    assert message.startswith("required key is missing")
    assert "recorded stream" in message


def test_defaults_of_an_almost_empty_site() -> None:
    site = Site.model_validate({})
    assert site.timezone == "UTC"
    assert (site.cameras, site.doors, site.schedules) == ([], [], {})
    assert site.retention.recordings_days == 14
    assert site.priorities.door_forced == 1
    assert site.edge.segment_seconds == 10
    cam = Camera.model_validate(camera())
    assert cam.detect_fps == 5.0
    assert cam.sub_url == ""
    assert cam.detect_url == cam.main_url
    assert cam.record is True
    assert cam.location.floor == 0
    door = Door.model_validate({"id": "d1", "location": LOC})
    assert door.held_open_seconds == 30.0
    assert door.schedule is None
    assert Zone.model_validate({"name": "z", "polygon": [[0, 0], [1, 0], [1, 1]]}).min_area > 0


@pytest.mark.parametrize("bad", ["../x", "..", ".", "a/b", "/abs", "", "a b", "x" * 65])
def test_ids_that_could_escape_a_directory_are_refused(bad: str) -> None:
    assert not is_valid_id(bad)
    with pytest.raises(ValidationError):
        Camera.model_validate(camera(id=bad))


def test_stream_url_needs_a_scheme_and_location_bounds() -> None:
    with pytest.raises(ValidationError):
        Camera.model_validate(camera(main_url="nvr-1/cam"))
    with pytest.raises(ValidationError):
        Location.model_validate({**LOC, "lat": 91})
    with pytest.raises(ValidationError):
        Camera.model_validate(camera(detect_fps=0))


def test_unknown_time_zone_is_an_error() -> None:
    with pytest.raises(ValidationError) as info:
        Site.model_validate({"timezone": "Mars/Olympus_Mons"})
    assert "unknown time zone" in paths_and_messages(info.value, Site)["timezone"]


def sgt(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_daytime_range_is_half_open() -> None:
    office = TimeRange(days=["mon", "tue", "wed", "thu", "fri"], start=time(8), end=time(17))
    monday = datetime(2026, 11, 23)  # a Monday, naive local time
    assert office.contains(monday.replace(hour=8))
    assert office.contains(monday.replace(hour=16, minute=59))
    assert not office.contains(monday.replace(hour=17))
    assert not office.contains(monday.replace(hour=7, minute=59))
    assert not office.contains(datetime(2026, 11, 28, 10))  # Saturday


def test_overnight_range_belongs_to_the_day_it_starts() -> None:
    friday_night = TimeRange(days=["fri"], start=time(22), end=time(6))
    assert friday_night.contains(datetime(2026, 11, 27, 23, 30))  # Friday 23:30
    assert friday_night.contains(datetime(2026, 11, 28, 5, 59))  # Saturday 05:59
    assert not friday_night.contains(datetime(2026, 11, 28, 6, 0))
    assert not friday_night.contains(datetime(2026, 11, 27, 5, 0))  # Friday early: Thursday's
    assert not friday_night.contains(datetime(2026, 11, 28, 23, 0))  # Saturday night


def test_equal_start_and_end_is_the_whole_day_and_the_default() -> None:
    every_day = TimeRange()
    assert every_day.contains(datetime(2026, 11, 28, 0, 0))
    assert every_day.contains(datetime(2026, 11, 28, 23, 59, 59, 999_999))
    evenings = TimeRange(start=time(18))  # end defaults to midnight
    assert evenings.contains(datetime(2026, 11, 28, 23, 59))
    assert not evenings.contains(datetime(2026, 11, 28, 0, 30))


def test_schedule_is_read_in_the_site_time_zone() -> None:
    site = Site.model_validate({
        "timezone": "Asia/Shanghai",
        "schedules": {"night": {"ranges": [{"start": "22:00", "end": "06:00"}]}},
    })
    # 15:00 UTC is 23:00 in Shanghai (UTC+8): night there, afternoon in UTC.
    assert site.schedule_active("night", datetime(2026, 11, 28, 15, 0, tzinfo=UTC))
    assert not site.schedule_active("night", datetime(2026, 11, 28, 22, 30, tzinfo=UTC))
    assert site.schedule_active("night", sgt(2026, 11, 28, 5, 30))
    assert not site.schedule_active("unknown", datetime(2026, 11, 28, 15, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match="naive"):
        site.schedules["night"].active(datetime(2026, 11, 28, 15), site.tz)


def test_schedule_follows_daylight_saving_in_its_zone() -> None:
    schedule = Schedule.model_validate({"ranges": [{"start": "09:00", "end": "17:00"}]})
    berlin = ZoneInfo("Europe/Berlin")
    # 08:30 UTC is 09:30 in Berlin in winter (UTC+1) but 10:30 in summer (UTC+2).
    assert schedule.active(datetime(2026, 1, 15, 8, 30, tzinfo=UTC), berlin)
    assert schedule.active(datetime(2026, 7, 15, 7, 30, tzinfo=UTC), berlin)
    assert not schedule.active(datetime(2026, 1, 15, 7, 30, tzinfo=UTC), berlin)


@pytest.mark.parametrize("value", [1320, 22.0, True])
def test_schedule_time_given_as_a_number_is_refused(value: object) -> None:
    with pytest.raises(ValidationError, match="HH:MM"):
        TimeRange.model_validate({"start": value})


def test_schedule_needs_ranges_and_days() -> None:
    with pytest.raises(ValidationError):
        Schedule.model_validate({"ranges": []})
    with pytest.raises(ValidationError):
        TimeRange.model_validate({"days": []})
    with pytest.raises(ValidationError):
        TimeRange.model_validate({"days": ["monday"]})


def test_cached_indexes_do_not_survive_model_copy() -> None:
    a = Camera.model_validate(camera(id="a", sees_doors=["d1"]))
    b = Camera.model_validate(camera(id="b"))
    site = Site(cameras=[a], doors=[Door.model_validate({"id": "d1", "location": LOC})])
    assert list(site.cameras_by_id) == ["a"]
    assert site.cameras_for_door("d1") == ["a"]
    assert site.door("d1") is not None
    copied = site.model_copy(update={"cameras": [b], "doors": []})
    assert list(copied.cameras_by_id) == ["b"]
    assert copied.camera("a") is None
    assert copied.door("d1") is None
    assert copied.cameras_for_door("d1") == []
    assert list(site.cameras_by_id) == ["a"]  # the original keeps its own


def test_cameras_for_door_merges_both_directions() -> None:
    site = Site(
        cameras=[Camera.model_validate(camera(id="a")),
                 Camera.model_validate(camera(id="b", sees_doors=["d1"]))],
        doors=[Door.model_validate({"id": "d1", "location": LOC, "cameras": ["a", "b"]})],
    )
    assert site.cameras_for_door("d1") == ["a", "b"]
    assert site.cameras_for_door("nope") == []


def test_models_are_immutable() -> None:
    cam = Camera.model_validate(camera())
    with pytest.raises(ValidationError):
        cam.detect_fps = 10  # type: ignore[misc]
