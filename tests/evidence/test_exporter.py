"""The export itself: bit-exact master, stream-copied working copy, manifest, gaps."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from compoundeye.recordings import segment_path
from compoundeye.site.models import Site
from evidence.export_models import ExportRefusedError, ExportRequest, new_export_id
from evidence.exporter import Exporter
from evidence.manifest import MANIFEST_NAME, read_manifest
from evidence.signing import Keyring
from tests.evidence.conftest import FPS, GOP_SECONDS, T0


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _probe(path: Path) -> dict[str, Any]:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries",
                          "format=duration:format_tags=creation_time,comment:stream=codec_type",
                          "-of", "json", str(path)], capture_output=True, check=True, timeout=30)
    return dict(json.loads(out.stdout))


def _plays(path: Path) -> bool:
    proc = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "null", "-"],
                          capture_output=True, timeout=60)
    return proc.returncode == 0 and not proc.stderr.strip()


def _request(cameras: list[str], start_s: float, end_s: float) -> ExportRequest:
    return ExportRequest(camera_ids=cameras, start=T0 + timedelta(seconds=start_s),
                         end=T0 + timedelta(seconds=end_s), case_id="CASE-112/3",
                         reason="east gate incident", requester="det. lee")


def _export(site: Site, data_dir: Path, request: ExportRequest):
    exporter = Exporter(site, data_dir / "recordings", keyring=Keyring(data_dir / "keys"))
    export_id = new_export_id()
    return exporter.run(export_id, request, data_dir / "exports" / export_id,
                        role="investigator")


def test_thirty_second_export_is_exact_and_plays(export_site: Site, data_dir: Path) -> None:
    phases: list[tuple[float, str]] = []
    exporter = Exporter(export_site, data_dir / "recordings",
                        keyring=Keyring(data_dir / "keys"))
    request = _request(["cam-door"], 12.5, 42.5)
    result = exporter.run(new_export_id(), request, data_dir / "exports" / "x",
                          progress=lambda f, p: phases.append((f, p)))
    (camera,) = result.manifest.cameras
    assert camera.master is not None and camera.working_copy is not None
    # the master is the covering segments' bytes, concatenated unchanged
    sources = [segment_path(data_dir / "recordings", "cam-door", T0 + timedelta(seconds=s))
               for s in (10, 20, 30, 40)]
    master = result.directory / camera.master.path
    assert master.read_bytes() == b"".join(p.read_bytes() for p in sources)
    assert [s.path for s in camera.segments] == [
        p.relative_to(data_dir / "recordings").as_posix() for p in sources]
    assert [s.sha256 for s in camera.segments] == [_sha(p) for p in sources]
    assert camera.master.sha256 == _sha(master) and camera.master.size == master.stat().st_size
    # the working copy: stream copy, within one GOP of 30 s, plays, carries the wall clock
    mp4 = result.directory / camera.working_copy.path
    assert camera.working_copy.sha256 == _sha(mp4)
    probe = _probe(mp4)
    duration = float(probe["format"]["duration"])
    assert 30 - 1 / FPS <= duration <= 30 + GOP_SECONDS + 1 / FPS, duration
    assert camera.working_copy.duration_seconds == pytest.approx(duration, abs=0.01)
    assert _plays(mp4)
    assert {s["codec_type"] for s in probe["streams"]} == {"video", "audio"}
    # keyframes every second: the request at .5 s starts at the keyframe 0.5 s earlier
    assert camera.working_copy.keyframe_forced_earlier_start
    assert camera.working_copy.keyframe_lead_seconds == pytest.approx(0.5, abs=1 / FPS)
    assert camera.working_copy.start == camera.actual_start
    tags = probe["format"]["tags"]
    assert tags["creation_time"].startswith("2026-11-03T21:40:12")
    assert "wallclock_start=2026-11-03T21:40:12" in tags["comment"]
    assert camera.gaps == [] and camera.note is None
    # progress went forward to 1.0 with phases
    assert phases[-1] == (1.0, "done")
    assert [f for f, _ in phases] == sorted(f for f, _ in phases)
    assert all(0.0 <= f <= 1.0 for f, _ in phases)
    assert any(0.3 < f < 0.9 and p == "copying cam-door" for f, p in phases)
    # the manifest on disk is the one returned, with request and software
    on_disk, digest = read_manifest(result.directory)
    assert digest == result.manifest_sha256 == _sha(result.directory / MANIFEST_NAME)
    assert on_disk.request.case_id == "CASE-112/3" and on_disk.request.requester == "det. lee"
    assert on_disk.software.ffmpeg_version.startswith("ffmpeg version")
    assert on_disk.cameras[0].location.building == "B112"
    assert result.download == mp4


def test_window_across_an_outage_lists_the_gap(export_site: Site, data_dir: Path) -> None:
    root = data_dir / "recordings"
    for s in (20, 30):  # the camera was down for 20 s
        segment_path(root, "cam-door", T0 + timedelta(seconds=s)).unlink()
    result = _export(export_site, data_dir, _request(["cam-door"], 5, 55))
    (camera,) = result.manifest.cameras
    assert [(g.start, g.end, g.reason) for g in camera.gaps] == [
        (T0 + timedelta(seconds=20), T0 + timedelta(seconds=40), "no recording")]
    assert len(camera.segments) == 4
    assert camera.working_copy is not None
    assert camera.note is not None and "continuously across the gaps" in camera.note
    assert _plays(result.directory / camera.working_copy.path)


def test_corrupt_segment_is_a_gap_not_a_crash(export_site: Site, data_dir: Path) -> None:
    root = data_dir / "recordings"
    segment_path(root, "cam-door", T0 + timedelta(seconds=20)).write_bytes(b"\x00" * 4096)
    result = _export(export_site, data_dir, _request(["cam-door"], 0, 40))
    (camera,) = result.manifest.cameras
    (gap,) = camera.gaps
    assert (gap.start, gap.end) == (T0 + timedelta(seconds=20), T0 + timedelta(seconds=30))
    assert "not MPEG-TS" in gap.reason
    assert [s.path.rsplit("/", 1)[1] for s in camera.segments] == ["40.00.ts", "40.10.ts",
                                                                  "40.30.ts"]


def test_several_cameras_one_folder_each_zipped(export_site: Site, data_dir: Path) -> None:
    result = _export(export_site, data_dir, _request(["cam-door", "cam-near", "cam-far"], 0, 20))
    by_id = {c.camera_id: c for c in result.manifest.cameras}
    assert by_id["cam-far"].master is None
    assert by_id["cam-far"].note == "no usable recording in the window"
    assert result.download is not None and result.download.suffix == ".zip"
    with zipfile.ZipFile(result.download) as archive:
        infos = {i.filename: i for i in archive.infolist()}
        assert all(i.compress_type == zipfile.ZIP_STORED for i in infos.values())
        expected = {MANIFEST_NAME, "signature.json", "verify.py", "README.txt",
                    "public-keys.json", *(f.path for f in result.manifest.files())}
        assert set(infos) == expected
        assert {t.path for t in result.manifest.tools} == {"verify.py", "README.txt",
                                                           "public-keys.json"}
        for entry in [*result.manifest.files(), *result.manifest.tools]:
            assert hashlib.sha256(archive.read(entry.path)).hexdigest() == entry.sha256
    assert {p.name for p in result.directory.iterdir() if p.is_dir()} == {"cam-door", "cam-near"}


def test_unknown_camera_is_refused(export_site: Site, data_dir: Path) -> None:
    with pytest.raises(ExportRefusedError, match="unknown camera"):
        _export(export_site, data_dir, _request(["cam-ghost"], 0, 20))


def test_segment_removed_during_export_becomes_a_gap(export_site: Site, data_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Retention may delete a segment between the readable check and the copy."""
    import evidence.exporter as exporter_module
    from evidence.segments import select as real_select

    victim = segment_path(data_dir / "recordings", "cam-door", T0 + timedelta(seconds=20))

    def select_then_prune(*args: Any, **kwargs: Any) -> Any:
        chosen = real_select(*args, **kwargs)
        victim.unlink()
        return chosen

    monkeypatch.setattr(exporter_module, "select", select_then_prune)
    result = _export(export_site, data_dir, _request(["cam-door"], 0, 40))
    (camera,) = result.manifest.cameras
    (gap,) = camera.gaps
    assert (gap.start, gap.end) == (T0 + timedelta(seconds=20), T0 + timedelta(seconds=30))
    assert "unreadable at copy" in gap.reason
    assert len(camera.segments) == 3 and camera.working_copy is not None


def test_a_stop_request_cancels_the_export(export_site: Site, data_dir: Path) -> None:
    import threading

    from evidence.exporter import ExportCancelledError

    stop = threading.Event()
    stop.set()
    with pytest.raises(ExportCancelledError):
        Exporter(export_site, data_dir / "recordings",
                        keyring=Keyring(data_dir / "keys")).run(
            new_export_id(), _request(["cam-door"], 0, 30), data_dir / "exports" / "c",
            stop=stop)


def test_mp4_duration_needs_a_moov_box() -> None:
    from evidence.exporter import mp4_duration

    assert mp4_duration(b"") is None
    assert mp4_duration(b"\x00\x00\x00\x10ftypisom\x00\x00\x00\x00") is None
    assert mp4_duration(b"\x00\x00\x00\x04junk") is None


def test_refused_when_the_disk_is_too_full(export_site: Site, data_dir: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(ExportRefusedError, match="not enough disk space"):
        _export(export_site, data_dir, _request(["cam-door"], 0, 30))
    assert not (data_dir / "exports").exists() or not any((data_dir / "exports").iterdir())
