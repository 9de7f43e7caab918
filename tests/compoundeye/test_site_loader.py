"""Loading a site file: YAML plus CSV, every error named by its path, row or line."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
import yaml

from compoundeye.site import SiteConfigError, load_site
from compoundeye.site.camera_csv import parse_polygon, parse_zones
from compoundeye.site.refs import site_problems

HEADER = "id,main_url,building,lat,lon,zones,sees_doors\n"

SITE = """\
timezone: Asia/Shanghai
camera_files:
  - path: cams.csv
schedules:
  night:
    ranges:
      - start: 22:00
        end: 06:00
cameras:
  - id: yaml-1
    main_url: rtsp://nvr-1:554/yaml-1/main
    location: {building: B001, lat: 31.11, lon: 121.38}
    zones:
      - name: door
        polygon: [[0.1, 0.4], [0.9, 0.4], [0.9, 1.0]]
        armed_schedule: night
doors:
  - id: B001-door1
    location: {building: B001, lat: 31.11, lon: 121.38}
    cameras: [yaml-1, csv-1]
    schedule: night
"""
GOOD_ROWS = (
    "csv-1,rtsp://nvr-1:554/csv-1/main,B001,31.1101,121.3801,"
    "approach@night=0.05 0.45;0.95 0.45;0.95 1,B001-door1\n"
    "csv-2,rtsp://nvr-1:554/csv-2/main,B002,31.1102,121.3802,,\n"
)


def write(tmp_path: Path, site: str = SITE, rows: str = GOOD_ROWS,
          header: str = HEADER) -> Path:
    (tmp_path / "cams.csv").write_text(header + rows)
    path = tmp_path / "site.yaml"
    path.write_text(site)
    return path


def errors_of(path: Path) -> dict[str, str]:
    with pytest.raises(SiteConfigError) as info:
        load_site(path)
    return {e.where: e.message for e in info.value.errors}


def test_valid_site_merges_yaml_and_csv_cameras(tmp_path: Path) -> None:
    site = load_site(write(tmp_path))
    assert [c.id for c in site.cameras] == ["yaml-1", "csv-1", "csv-2"]
    csv_1 = site.camera("csv-1")
    assert csv_1 is not None
    assert csv_1.location.lat == pytest.approx(31.1101)
    assert csv_1.zones[0].armed_schedule == "night"
    assert csv_1.zones[0].polygon[2] == (0.95, 1.0)
    assert site.cameras_for_door("B001-door1") == ["yaml-1", "csv-1"]
    # YAML 1.1 would read 22:00 as the number 1320; the loader keeps it a time of day.
    assert site.schedules["night"].ranges[0].start == time(22, 0)
    assert site.schedules["night"].ranges[0].end == time(6, 0)
    assert site_problems(site) == []


def test_csv_row_errors_name_the_row_and_column(tmp_path: Path) -> None:
    rows = GOOD_ROWS + (
        "csv-3,rtsp://nvr-1:554/csv-3/main,B003,north,121.38,,\n"  # row 4: lat
        "csv-4,,B004,31.11,121.38,,\n"  # row 5: main_url missing
        "csv-5,rtsp://x/5,B005,31.11,121.38,door=0 0;2 0;1 1,\n"  # row 6: polygon outside
        "csv-6,rtsp://x/6,B006,31.11,121.38,door 0 0,\n"  # row 7: zone syntax
        "csv-7,rtsp://x/7,B007,31.11,121.38,,,surplus\n"  # row 8: too many cells
    )
    errors = errors_of(write(tmp_path, rows=rows))
    label = "camera_files[0] (cams.csv)"
    assert "valid number" in errors[f"{label} row 4, column lat"]
    assert errors[f"{label} row 5, column main_url"].startswith("required key is missing")
    assert "outside the frame" in errors[f"{label} row 6, column zones"]
    assert "name=polygon" in errors[f"{label} row 7, column zones"]
    assert "cells" in errors[f"{label} row 8"]
    assert len(errors) == 5


def test_csv_unknown_and_missing_columns_are_reported_once(tmp_path: Path) -> None:
    errors = errors_of(write(tmp_path, header="id,main_url,building,lat,lon,zones,sees_doors,x\n"))
    assert list(errors) == ["camera_files[0] (cams.csv) row 1"]
    assert "unknown columns ['x']" in errors["camera_files[0] (cams.csv) row 1"]
    errors = errors_of(write(tmp_path, header="id,main_url,building,lat\n", rows=""))
    assert "missing columns: ['lon']" in errors["camera_files[0] (cams.csv) row 1"]


def test_missing_csv_file_is_named(tmp_path: Path) -> None:
    path = write(tmp_path)
    (tmp_path / "cams.csv").unlink()
    errors = errors_of(path)
    assert "cannot read camera file" in errors["camera_files[0] (cams.csv)"]


def test_duplicate_camera_ids_across_yaml_and_csv(tmp_path: Path) -> None:
    rows = GOOD_ROWS + "yaml-1,rtsp://nvr-1:554/dup/main,B001,31.11,121.38,,\n"
    errors = errors_of(write(tmp_path, rows=rows))
    message = errors["camera_files[0] (cams.csv) row 4, column id"]
    assert "duplicate camera id 'yaml-1'" in message
    assert "first at cameras[0]" in message


def test_door_naming_an_unknown_camera(tmp_path: Path) -> None:
    errors = errors_of(write(tmp_path, site=SITE.replace("[yaml-1, csv-1]", "[yaml-1, ghost]")))
    assert errors == {"doors[0].cameras[1]": "unknown camera 'ghost'"}


def test_unknown_schedules_on_doors_and_zones(tmp_path: Path) -> None:
    site = SITE.replace("armed_schedule: night", "armed_schedule: nightly").replace(
        "    schedule: night", "    schedule: office")
    errors = errors_of(write(tmp_path, site=site))
    assert errors == {
        "doors[0].schedule": "unknown schedule 'office'",
        "cameras[0].zones[0].armed_schedule": "unknown schedule 'nightly'",
    }


def test_csv_camera_naming_an_unknown_door(tmp_path: Path) -> None:
    rows = GOOD_ROWS.replace(",B001-door1\n", ",B001-door9\n")
    errors = errors_of(write(tmp_path, rows=rows))
    assert errors == {"camera_files[0] (cams.csv) row 2, column sees_doors [0]":
                      "unknown door 'B001-door9'"}


def test_every_error_is_reported_not_only_the_first(tmp_path: Path) -> None:
    site = SITE.replace("timezone: Asia/Shanghai", "timezone: Nowhere/City\nbogus: 1").replace(
        "lat: 31.11, lon: 121.38}\n    zones", "lat: 31.11}\n    zones")
    rows = GOOD_ROWS + "csv-3,rtsp://x/3,B003,31.11,999,,\n"
    errors = errors_of(write(tmp_path, site=site, rows=rows))
    assert set(errors) == {
        "timezone", "bogus", "cameras[0].location.lon",
        "camera_files[0] (cams.csv) row 4, column lon",
    }
    # The invalid camera yaml-1 is not reported again as unknown by the door naming it.


def test_duplicate_door_ids(tmp_path: Path) -> None:
    site = SITE + """\
  - id: B001-door1
    location: {building: B001, lat: 31.11, lon: 121.38}
"""
    errors = errors_of(write(tmp_path, site=site))
    assert errors == {"doors[1].id": "duplicate door id 'B001-door1' (first at doors[0])"}


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    broken = SITE.replace("    cameras: [yaml-1, csv-1]", "    cameras: [yaml-1, csv-1")
    errors = errors_of(write(tmp_path, site=broken))
    ((where, message),) = errors.items()
    assert where.startswith("line 21,")
    assert message.startswith("not valid YAML")


def test_duplicate_yaml_key_is_an_error_with_its_line(tmp_path: Path) -> None:
    site = SITE.replace("timezone: Asia/Shanghai\n", "timezone: Asia/Shanghai\ntimezone: UTC\n")
    errors = errors_of(write(tmp_path, site=site))
    assert errors == {"line 2, column 1": "not valid YAML: duplicate key 'timezone'"}


@pytest.mark.parametrize(("text", "message"), [("- a\n- b\n", "must be a mapping"),
                                               ("cameras: {id: x}\n", "must be a list")])
def test_wrong_shapes(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(text)
    (only,) = errors_of(path).values()
    assert message in only


def test_empty_file_is_an_empty_site_and_missing_file_an_error(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("# nothing yet\n")
    assert load_site(path).cameras == []
    errors = errors_of(tmp_path / "absent.yaml")
    assert "cannot read" in next(iter(errors.values()))


def test_csv_cell_syntax() -> None:
    assert parse_polygon("0 0;1,0; 1 1") == [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]
    assert parse_zones("a@night=0 0;1 0;1 1|b=0 0;0 1;1 1") == [
        {"name": "a", "armed_schedule": "night",
         "polygon": [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]},
        {"name": "b", "polygon": [(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]},
    ]
    with pytest.raises(ValueError, match="not numbers"):
        parse_polygon("0 0;x 1;1 1")


def test_yaml_errors_carry_the_line_of_their_path(tmp_path: Path) -> None:
    site = SITE.replace("[yaml-1, csv-1]", "[yaml-1, ghost]").replace(
        "lat: 31.11, lon: 121.38}\n    zones", "lat: 31.11}\n    zones")
    with pytest.raises(SiteConfigError) as info:
        load_site(write(tmp_path, site=site))
    lines = {e.where: e.line for e in info.value.errors}
    assert lines["doors[0].cameras[1]"] == 20  # the line of `cameras: [yaml-1, ghost]`
    assert lines["cameras[0].location.lon"] == 12  # missing: the line of `location:`
    assert str(info.value.errors[0]).endswith(f"(line {info.value.errors[0].line})")
    csv_errors = errors_of(write(tmp_path, rows=GOOD_ROWS + "bad,rtsp://x,B,x,1,,\n"))
    assert list(csv_errors) == ["camera_files[0] (cams.csv) row 4, column lat"]


def test_a_loaded_site_dumps_to_one_yaml_that_loads_the_same(tmp_path: Path) -> None:
    site = load_site(write(tmp_path))
    document = site.model_dump(mode="json", exclude={"camera_files"})
    again_path = tmp_path / "again.yaml"
    again_path.write_text(yaml.safe_dump(document))
    again = load_site(again_path)
    assert again == site.model_copy(update={"camera_files": []})
    assert again.schedules["night"].ranges[0].start == time(22, 0)
