"""Export fixtures: a small site around a door, and recordings made the way the
recorder makes them (ffmpeg's segment muxer, stream copy, MPEG-TS, 10 s segments)."""

from __future__ import annotations

import math
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from compoundeye.recordings import segment_path
from compoundeye.site.models import Site

DOOR_LAT, DOOR_LON = 31.1100, 121.3800
T0 = datetime(2026, 11, 3, 21, 40, 0, tzinfo=UTC)
FPS = 15
GOP_SECONDS = 1.0


def offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """A point ``north_m`` north and ``east_m`` east of (lat, lon)."""
    dlat = north_m / 111_320.0
    dlon = east_m / (111_320.0 * math.cos(math.radians(lat)))
    return lat + dlat, lon + dlon


def _camera(camera_id: str, building: str, north: float, east: float,
            zone: str = "gate", sees: list[str] | None = None) -> dict[str, object]:
    lat, lon = offset(DOOR_LAT, DOOR_LON, north, east)
    return {"id": camera_id, "name": f"Camera {camera_id}", "main_url": f"rtsp://sim/{camera_id}",
            "location": {"building": building, "zone": zone, "lat": lat, "lon": lon},
            "sees_doors": sees or []}


EXPORT_SITE = {
    "name": "export test",
    "cameras": [
        _camera("cam-door", "B112", 200, 0),               # configured on the door, far away
        _camera("cam-sees", "B112", -150, 0, sees=["door-east"]),  # names the door itself
        _camera("cam-near", "B112", 30, 0),                # 30 m: inside the 50 m radius
        _camera("cam-edge", "B113", 0, 45, zone="road"),    # 45 m: inside, other building
        _camera("cam-far", "B112", 80, 0),                 # 80 m: outside
        _camera("cam-other", "B200", 2000, 2000, zone="market"),
    ],
    "doors": [
        {"id": "door-east", "name": "B112 east gate", "cameras": ["cam-door"],
         "location": {"building": "B112", "zone": "gate", "lat": DOOR_LAT, "lon": DOOR_LON}},
    ],
}


@pytest.fixture
def export_site() -> Site:
    return Site.model_validate(EXPORT_SITE)


def record_segments(root: Path, camera_id: str, start: datetime, seconds: int, workdir: Path,
                    *, size: str = "320x240", codec: str = "libx264") -> list[Path]:
    """Encode a test pattern and cut it with the recorder's segment options (stream copy,
    MPEG-TS, 10 s, timestamps reset per segment), then move each segment into the layout."""
    staging = workdir / f"staging-{camera_id}"
    staging.mkdir(parents=True, exist_ok=True)
    source = workdir / f"{camera_id}-source.ts"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate={FPS}",
         "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", str(seconds),
         "-c:v", codec, "-preset", "ultrafast", "-g", str(int(FPS * GOP_SECONDS)),
         "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "48k", "-f", "mpegts", str(source)],
        check=True, timeout=120)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-i", str(source), "-map", "0:v:0", "-map", "0:a?",
         "-c", "copy", "-f", "segment", "-segment_time", "10", "-segment_format", "mpegts",
         "-reset_timestamps", "1", str(staging / "%05d.ts")],
        check=True, timeout=120)
    out = []
    for index, part in enumerate(sorted(staging.glob("*.ts"))):
        target = segment_path(root, camera_id, start + timedelta(seconds=10 * index))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(part, target)
        out.append(target)
    return out


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A recordings root with 60 s of ``cam-door`` and ``cam-near`` from T0."""
    base = tmp_path_factory.mktemp("recorded")
    root = base / "data" / "recordings"
    for camera_id in ("cam-door", "cam-near"):
        record_segments(root, camera_id, T0, 60, base / "work")
    return base / "data"


@pytest.fixture
def data_dir(recorded: Path, tmp_path: Path) -> Path:
    """A private copy of the recorded data directory (tests may damage it)."""
    target = tmp_path / "data"
    shutil.copytree(recorded, target)
    return target
