"""``compoundeye check-config`` run as the console script, as an operator would."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("compoundeye")
BROKEN = Path(__file__).parent / "data" / "broken"
REFERENCE = ROOT / "deploy" / "site" / "compound.yaml"

# One file per error class; each expected path (or row, or line) must appear in stderr.
EXPECTED: dict[str, list[str]] = {
    "yaml_syntax.yaml": ["line 7, column 1: not valid YAML"],
    "duplicate_key.yaml": ["line 4, column 3: not valid YAML: duplicate key 'recordings_days'"],
    "unknown_key.yaml": ["cameras[0].location.room: unknown key",
                         "retention.recording_days: unknown key"],
    "missing_required.yaml": ["cameras[0].main_url: required key is missing",
                              "cameras[0].location.lon: required key is missing"],
    "polygon_outside.yaml": ["cameras[0].zones[0].polygon: point (1.3, 0.4) is outside",
                             "cameras[0].masks[0]: point (1.0, -0.2) is outside"],
    "duplicate_camera.yaml": ["cameras[1].id: duplicate camera id 'cam-1'"],
    "door_unknown_camera.yaml": ["doors[0].cameras[1]: unknown camera 'cam-404'"],
    "unknown_schedule.yaml": ["doors[0].schedule: unknown schedule 'office-hours'"],
    "bad_schedule_time.yaml": ["schedules.night.ranges[0].start:",
                               "schedules.night.ranges[1].days[0]:"],
    "bad_timezone.yaml": ["timezone: unknown time zone 'Asia/Atlantis'"],
    "unsafe_id.yaml": ["cameras[0].id: invalid id '../etc'"],
    "csv_bad_rows.yaml": ["camera_files[0] (csv_bad_rows.csv) row 3, column lat:",
                          "camera_files[0] (csv_bad_rows.csv) row 4, column detect_fps:"],
    "csv_duplicate_id.yaml": [
        "camera_files[0] (csv_duplicate_id.csv) row 2, column id: duplicate camera id 'cam-1'"],
    "csv_missing_file.yaml": ["camera_files[0] (no-such-cameras.csv): cannot read camera file"],
}


def check_config(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLI), "check-config", str(path)], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, check=False)


def test_every_broken_file_has_expectations() -> None:
    assert sorted(p.name for p in BROKEN.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_file_exits_1_naming_every_error(name: str) -> None:
    result = check_config(BROKEN / name)
    assert result.returncode == 1, result.stderr
    assert result.stdout == ""
    for expected in EXPECTED[name]:
        assert expected in result.stderr, f"{expected!r} missing from:\n{result.stderr}"
    reported = re.search(r"invalid, (\d+) error\(s\)", result.stderr)
    assert reported is not None
    assert int(reported[1]) == len(EXPECTED[name])


def test_reference_site_is_accepted() -> None:
    result = check_config(REFERENCE)
    assert result.returncode == 0, result.stderr[-2000:]
    match = re.search(r": ok: (\d+) cameras, (\d+) doors, (\d+) buildings", result.stdout)
    assert match is not None, result.stdout
    cameras, doors, buildings = (int(g) for g in match.groups())
    assert cameras >= 2400
    assert doors >= 286
    assert buildings >= 286


def test_missing_file_exits_1() -> None:
    result = check_config(BROKEN / "does-not-exist.yaml")
    assert result.returncode == 1
    assert "cannot read" in result.stderr
