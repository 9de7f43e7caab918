"""``compoundeye bench search``: answer "which cameras of this building recorded what,
and where are the gaps" for a one-hour window, against the recordings layout.

The tree: every camera of the reference site's largest building (deploy/site/compound.yaml;
a generated 2,400-camera site when that file is missing), one segment per 10 s over
several hours (3 quick, 12 full). Each segment is two MPEG-TS null packets (376 bytes):
small, but real enough to pass the readable check the search makes on every segment in
the window.

Baseline: what a search that does not use the layout as an index must do, an ``os.walk``
of the same camera directories with a ``stat`` of every file. The search only lists the
hour directories the window touches, then opens each segment in it (size and sync bytes).
ratio = baseline time / search time; the target is the 1 s answer (value < 1 s). The
baseline grows with the hours kept (14 days by default retention) while the search does
not, so the ratio measured over a 12-hour tree understates what a full disk would show.
"""

from __future__ import annotations

import logging
import os
import shutil
import statistics
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.runner import BenchResult
from compoundeye.recordings import segment_path
from compoundeye.site import Site, SiteConfigError, load_site
from evidence.search import Place, search_coverage

log = logging.getLogger(__name__)

REFERENCE_SITE = Path(__file__).resolve().parent.parent / "deploy" / "site" / "compound.yaml"
NULL_PACKET = bytes([0x47, 0x1F, 0xFF, 0x10]) + b"\xff" * 184
SEGMENT_BYTES = NULL_PACKET * 2


def generated_site(cameras: int = 2400, buildings: int = 286) -> Site:
    """A site shaped like the reference one: ``cameras`` spread over ``buildings``."""
    rows = []
    for i in range(cameras):
        b = i % buildings
        rows.append({"id": f"c{i:05d}", "main_url": f"rtsp://sim/c{i:05d}",
                     "location": {"building": f"B{b:03d}", "zone": "z",
                                  "lat": 31.11 + b * 1e-4, "lon": 121.38 + (i % 7) * 1e-5}})
    return Site.model_validate({"cameras": rows})


def reference_site() -> tuple[Site, str]:
    """The reference site, or a generated one of the same size, and which it is."""
    try:
        return load_site(REFERENCE_SITE), str(REFERENCE_SITE.name)
    except SiteConfigError as exc:
        log.warning("reference site unusable (%s); generating one", exc)
        return generated_site(), "generated 2,400-camera site"


def build_tree(root: Path, camera_ids: list[str], start: datetime, hours: int,
               segment_seconds: int) -> int:
    """Write one small segment per ``segment_seconds`` for each camera; returns the count."""
    count = 0
    steps = hours * 3600 // segment_seconds
    for camera_id in camera_ids:
        made: set[Path] = set()
        for step in range(steps):
            path = segment_path(root, camera_id, start + timedelta(seconds=step * segment_seconds))
            if path.parent not in made:
                path.parent.mkdir(parents=True, exist_ok=True)
                made.add(path.parent)
            path.write_bytes(SEGMENT_BYTES)
            count += 1
    return count


def walk_and_stat(root: Path, camera_ids: list[str]) -> int:
    """The baseline: walk every camera directory and stat every file."""
    files = 0
    for camera_id in camera_ids:
        for directory, _, names in os.walk(root / camera_id):
            for name in names:
                os.stat(os.path.join(directory, name))  # noqa: PTH116, PTH118 - the baseline
                files += 1
    return files


def measure(quick: bool) -> BenchResult:
    """Time a one-hour building search against a walk-and-stat of the same tree."""
    site, source = reference_site()
    building, cameras_in_building = Counter(c.location.building for c in site.cameras
                                            ).most_common(1)[0]
    camera_ids = [c.id for c in site.cameras if c.location.building == building]
    hours = 3 if quick else 12
    repeats = 3 if quick else 7
    seconds = site.edge.segment_seconds
    day = datetime(2026, 11, 3, tzinfo=UTC)
    workdir = Path(tempfile.mkdtemp(prefix="ce-bench-search-"))
    try:
        root = workdir / "recordings"
        files = build_tree(root, camera_ids, day, hours, seconds)
        start = day + timedelta(minutes=(hours * 60 - 60) // 2 + 5)
        end = start + timedelta(hours=1)
        place = Place(building=building)
        search_times, walk_times = [], []
        results = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            results = search_coverage(site, root, start, end, place)
            search_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            walked = walk_and_stat(root, camera_ids)
            walk_times.append(time.perf_counter() - t0)
        assert walked == files
        search_s = statistics.median(search_times)
        walk_s = statistics.median(walk_times)
        segments_in_window = sum(r.segments for r in results)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return BenchResult(
        name="search", value=round(search_s, 4), unit="s", baseline="os.walk + stat of the "
        "same camera trees", baseline_value=round(walk_s, 4),
        ratio=round(walk_s / search_s, 2) if search_s else 0.0, target=None,
        extra={"site": source, "building": building, "cameras": cameras_in_building,
               "tree_hours": hours, "files_in_tree": files,
               "segments_in_window": segments_in_window, "window_s": 3600,
               "search_max_s": round(max(search_times), 4), "target_s": 1.0,
               "meets_1s": max(search_times) < 1.0, "repeats": repeats},
    )
