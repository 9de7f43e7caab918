"""MPEG-TS scanning on real ffmpeg output: alignment, tables, keyframes, codec."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from dashboard.streaming.ts import PACKET, Aligner, TsState, random_access, scan

CLIP = Path(__file__).resolve().parents[3] / "sample_streams" / "clips" / "people" / "sub.mp4"


def _ts(args: list[str], tmp_path: Path) -> bytes:
    out = tmp_path / "out.ts"
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args, "-an", "-f", "mpegts", "-muxdelay",
                    "0", str(out)], check=True, timeout=120)
    return out.read_bytes()


def _keyframes(path_or_data: bytes, tmp_path: Path) -> int:
    (tmp_path / "k.ts").write_bytes(path_or_data)
    flags = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                            "packet=flags", "-of", "csv=p=0", str(tmp_path / "k.ts")],
                           capture_output=True, check=True, text=True).stdout.split()
    return sum(1 for f in flags if f.startswith("K"))


def test_scan_finds_every_keyframe_and_the_codec(tmp_path: Path) -> None:
    data = _ts(["-i", str(CLIP), "-c", "copy"], tmp_path)
    state = TsState()
    found = 0
    for offset in range(0, len(data), PACKET * 7):  # chunks cut anywhere on packets
        if scan(data[offset:offset + PACKET * 7], state) is not None:
            found += 1
    assert state.codec == "h264" and state.video_pid is not None
    assert state.pat and state.pmt and state.headers() == state.pat + state.pmt
    assert found == _keyframes(data, tmp_path)  # one chunk holds at most one keyframe here


def test_hevc_is_named_so_a_page_can_say_it_cannot_play_it(tmp_path: Path) -> None:
    data = _ts(["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10", "-t", "2", "-c:v",
                "libx265", "-x265-params", "log-level=error", "-g", "10"], tmp_path)
    state = TsState()
    keyframe = scan(data, state)
    assert state.codec == "hevc"
    assert keyframe is not None and random_access(data[keyframe:keyframe + PACKET])


def test_aligner_keeps_whole_packets_and_resynchronises(tmp_path: Path) -> None:
    data = _ts(["-i", str(CLIP), "-c", "copy", "-t", "2"], tmp_path)
    aligner = Aligner()
    out = b""
    garbage = b"\x00\x47junk" * 3
    pieces = [garbage, data[:1000], data[1000:5000], data[5000:]]
    for piece in pieces:
        out += aligner.feed(piece)
    assert len(out) % PACKET == 0
    assert out == data[:len(out)]  # the junk before the stream is skipped
    assert aligner.skipped == len(garbage)
    assert len(data) - len(out) < PACKET


@pytest.mark.parametrize("size", [1, 187, 188, 189, 4096])
def test_aligner_never_emits_a_partial_packet(size: int, tmp_path: Path) -> None:
    data = _ts(["-i", str(CLIP), "-c", "copy", "-t", "1"], tmp_path)
    aligner = Aligner()
    total = b"".join(aligner.feed(data[i:i + size]) for i in range(0, len(data), size))
    assert total == data[:len(data) // PACKET * PACKET]
