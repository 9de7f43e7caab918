"""Real-rate sub streams made from the clips: the bit rate, GOP and size a camera sends."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from sample_streams.realrate import bitrate_kbps, make_real_rate

pytestmark = [pytest.mark.slow]


def keyframe_times(path: Path) -> list[float]:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "packet=pts_time,flags", "-of", "csv=p=0", str(path)],
        capture_output=True, text=True, check=True).stdout
    return [float(line.split(",")[0]) for line in out.splitlines() if "K" in line]


def test_quiet_clip_at_700_kbit_s_with_a_2_s_gop(tmp_path: Path) -> None:
    folder = make_real_rate("quiet", tmp_path)
    sub = folder / "sub.mp4"
    assert 600 <= bitrate_kbps(sub) <= 800
    probe = json.loads(subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
         "stream=width,height,profile,has_b_frames,avg_frame_rate", "-of", "json", str(sub)],
        capture_output=True, text=True, check=True).stdout)["streams"][0]
    assert (probe["width"], probe["height"], probe["avg_frame_rate"]) == (640, 360, "15/1")
    assert probe["profile"] == "Main" and probe["has_b_frames"] == 0
    keys = keyframe_times(sub)
    assert keys[:4] == pytest.approx([0.0, 2.0, 4.0, 6.0], abs=0.01)
    assert json.loads((folder / "truth.json").read_text())["name"] == "quiet"
    assert (folder / "main.mp4").resolve().is_file()
    # Made once: a second call with the same parameters reuses the file.
    stamp = sub.stat().st_mtime_ns
    assert make_real_rate("quiet", tmp_path) == folder
    assert sub.stat().st_mtime_ns == stamp
