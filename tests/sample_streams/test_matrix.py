"""The camera matrix as the simulator serves it, read back with ffprobe over RTSP."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest

from sample_streams.matrix import VARIANTS, make_variant

pytestmark = [pytest.mark.slow]


def _probe(url: str) -> tuple[int, dict[str, Any]]:
    out = subprocess.run(["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_entries",
                          "stream=codec_type,codec_name,profile,width,height,has_b_frames,"
                          "sample_rate", "-of", "json", url],
                         capture_output=True, text=True, timeout=60)
    return out.returncode, json.loads(out.stdout or "{}") | {"stderr": out.stderr}


@pytest.mark.timeout(600)  # a cold cache encodes every variant (about 2 minutes)
def test_every_variant_is_a_clips_folder_with_its_spec() -> None:
    for name in VARIANTS:
        folder = make_variant(name)
        spec = json.loads((folder / "variant.json").read_text())
        assert spec["codec"] == VARIANTS[name].codec
        assert (folder / "main.mp4").stat().st_size > 100_000
        assert (folder / "truth.json").exists() and (folder / "sub.mp4").exists()


@pytest.mark.timeout(180)
def test_codecs_audio_and_auth_as_a_camera_sends_them(rtsp_simulator_factory: Any) -> None:
    sim = rtsp_simulator_factory({}, matrix={
        "hevc": "h265-main-b", "high": "h264-high-b", "ulaw": "audio-pcmu", "aac": "audio-aac",
        "digest": "auth-digest", "basic": "auth-basic", "hd": "hd-4m"})
    code, info = _probe(sim.url("hevc", "main"))
    (video,) = info["streams"]
    assert code == 0 and video["codec_name"] == "hevc" and video["has_b_frames"] > 0
    _, info = _probe(sim.url("high", "main"))
    assert info["streams"][0]["profile"] == "High" and info["streams"][0]["has_b_frames"] > 0
    _, info = _probe(sim.url("ulaw", "main"))
    assert [s["codec_name"] for s in info["streams"]] == ["h264", "pcm_mulaw"]
    _, info = _probe(sim.url("aac", "main"))
    assert info["streams"][1]["codec_name"] == "aac"
    _, info = _probe(sim.url("hd", "main"))
    assert (info["streams"][0]["width"], info["streams"][0]["height"]) == (1920, 1080)
    _, info = _probe(sim.url("hd", "sub"))
    assert (info["streams"][0]["width"], info["streams"][0]["height"]) == (640, 360)
    for cam in ("digest", "basic"):
        assert sim.url(cam, "main").split(":")[2] != sim.url("hd", "main").split(":")[2]
        code, info = _probe(sim.url(cam, "main"))
        assert code != 0 and "401" in info["stderr"]
        code, info = _probe(sim.credentials_url(cam, "main", password="wrong"))
        assert code != 0 and "401" in info["stderr"]
        code, info = _probe(sim.credentials_url(cam, "main"))
        assert code == 0 and info["streams"][0]["codec_name"] == "h264", info
