"""Encoding: a tiny clip through the real ffmpeg, and the properties of the committed clips."""

from __future__ import annotations

import itertools
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from sample_streams import generate
from sample_streams.clips import ClipSpec, Tamper, catalogue
from sample_streams.scene import Mover

CLIPS = Path(__file__).resolve().parents[2] / "sample_streams" / "clips"
NAMES = sorted(catalogue())


def probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,profile,width,height,r_frame_rate,avg_frame_rate,pix_fmt,has_b_frames,nb_read_frames",
            "-show_entries",
            "frame=key_frame,pict_type",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        check=True,
        timeout=120,
    )
    info: dict[str, Any] = json.loads(out.stdout)
    return info


def keyframe_indices(info: dict[str, Any]) -> list[int]:
    return [i for i, f in enumerate(info["frames"]) if f["key_frame"] == 1]


def check_stream(path: Path, width: int, height: int, frames: int) -> None:
    info = probe(path)
    stream = info["streams"][0]
    assert stream["codec_name"] == "h264"
    assert stream["profile"] in ("Main", "Constrained Baseline", "Baseline")
    assert (stream["width"], stream["height"]) == (width, height)
    assert stream["r_frame_rate"] == "15/1" and stream["avg_frame_rate"] == "15/1"
    assert stream["pix_fmt"] == "yuv420p"
    assert stream["has_b_frames"] == 0
    assert all(f["pict_type"] in ("I", "P") for f in info["frames"])
    assert int(stream["nb_read_frames"]) == frames
    keys = keyframe_indices(info)
    assert keys[0] == 0
    gaps = {b - a for a, b in itertools.pairwise(keys)}
    assert gaps == {generate.GOP}, gaps
    assert 1.0 <= generate.GOP / 15 <= 2.0


def test_encode_tiny_clip(tmp_path):
    spec = ClipSpec(
        "tiny",
        seed=3,
        duration_s=3.0,
        movers=(Mover("person", "walkway", 0.2, 0.5, 1, 1.0, 3),),
        tamper=(Tamper(2.0, 2.5, "blackout"),),
    )
    clip_dir = generate.encode_clip(spec, tmp_path, width=320, height=180, sub_size=(160, 90))
    check_stream(clip_dir / "main.mp4", 320, 180, 45)
    check_stream(clip_dir / "sub.mp4", 160, 90, 45)
    truth = json.loads((clip_dir / "truth.json").read_text())
    assert truth["frames"] == 45 and (truth["sub_width"], truth["sub_height"]) == (160, 90)
    # frames 30..37 (t < 2.5 s) are black, so the frame-snapped end is 38/15 s
    assert truth["tamper"] == [{"start_s": 2.0, "end_s": 2.5333, "reason": "blackout"}]
    assert truth["motion"][0]["kind"] == "person"


@pytest.mark.parametrize("name", NAMES)
def test_committed_clip_properties(name):
    truth = json.loads((CLIPS / name / "truth.json").read_text())
    assert truth["name"] == name and truth["fps"] == 15
    check_stream(CLIPS / name / "main.mp4", 1280, 720, truth["frames"])
    check_stream(CLIPS / name / "sub.mp4", 640, 360, truth["frames"])


def test_committed_clips_stay_small():
    total = sum(p.stat().st_size for p in CLIPS.rglob("*") if p.is_file())
    assert sorted(p.name for p in CLIPS.iterdir() if p.is_dir()) == sorted(NAMES)
    assert total < 20 * 1024 * 1024


def test_cli_rejects_unknown_clip(capsys):
    with pytest.raises(SystemExit) as exc:
        generate.main(["--only", "nope"])
    assert exc.value.code == 2
    assert "unknown clip" in capsys.readouterr().err
