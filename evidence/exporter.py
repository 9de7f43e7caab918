"""One export, start to finish: per camera a bit-exact master and a stream-copied MP4
working copy from a single read of the source segments, then the examiner's tools, the
manifest and its signature, then (for several cameras) a stored zip for download.
Nothing is ever re-encoded."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from compoundeye.recordings import Segment
from compoundeye.recordings import gaps as find_gaps
from compoundeye.site.models import Camera, Site
from compoundeye.timeutil import to_rfc3339, utcnow
from evidence.export_models import ExportRefusedError, ExportRequest, NothingRecordedError
from evidence.export_tools import sign_export, signing_info, write_tools
from evidence.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    CameraEntry,
    CameraNote,
    FileEntry,
    GapEntry,
    Manifest,
    MasterFile,
    RequestEntry,
    SegmentEntry,
    WorkingCopy,
    software,
    stamp,
    start_ffmpeg_version,
    write_manifest,
)
from evidence.remux import RemuxResult, remux_segments
from evidence.segments import (
    GapSpan,
    Selection,
    StartPoint,
    explain_gaps,
    select,
    start_point,
)
from evidence.signing import Keyring
from evidence.stream_notes import stream_notes

log = logging.getLogger(__name__)

CHUNK = 1 << 20
SPACE_FACTOR = 2.1  # master + working copy (same bytes, remuxed) + manifest
SPACE_FACTOR_ZIP = 4.2  # and the stored zip of both
NOTHING_RECORDED = "no usable recording in the window"
GAP_NOTE = ("the working copy plays continuously across the gaps listed; "
            "wall-clock times are those of the segments")
FFMPEG_TIMEOUT_SECONDS = 600.0
Progress = Callable[[float, str], None]


class ExportCancelledError(RuntimeError):
    """The export was asked to stop before it finished."""


@dataclass(frozen=True)
class ExportResult:
    """What a finished export left on disk."""

    directory: Path
    manifest: Manifest
    manifest_sha256: str
    download: Path | None
    download_sha256: str | None = None


def sha256_file(path: Path, chunk: int = CHUNK) -> tuple[int, str, bytes]:
    """Size and SHA-256 of a file, read once, and its first chunk (for the MP4 header)."""
    digest = hashlib.sha256()
    size = 0
    buf = bytearray(chunk)
    view = memoryview(buf)
    head = b""
    with path.open("rb", buffering=0) as handle:
        while n := handle.readinto(buf):
            if not size:
                head = bytes(view[:n])
            digest.update(view[:n])
            size += n
    return size, digest.hexdigest(), head


def mp4_duration(head: bytes) -> float | None:
    """The movie duration from the ``mvhd`` box, when ``moov`` is in ``head`` (it is at
    the front of a ``+faststart`` file); None when it is not found."""
    pos = 0
    while pos + 8 <= len(head):
        size = int.from_bytes(head[pos:pos + 4], "big")
        kind = head[pos + 4:pos + 8]
        if kind == b"moov":
            inner = pos + 8
            end = min(pos + size, len(head))
            while inner + 8 <= end:
                box = int.from_bytes(head[inner:inner + 4], "big")
                if head[inner + 4:inner + 8] == b"mvhd":
                    body = inner + 8
                    if head[body] == 1:  # version 1: 64-bit times
                        scale = int.from_bytes(head[body + 20:body + 24], "big")
                        duration = int.from_bytes(head[body + 24:body + 32], "big")
                    else:
                        scale = int.from_bytes(head[body + 12:body + 16], "big")
                        duration = int.from_bytes(head[body + 16:body + 20], "big")
                    return duration / scale if scale else None
                if box < 8:
                    return None
                inner += box
            return None
        if size < 8:
            return None
        pos += size
    return None


def probe_duration(path: Path) -> float:
    """A media file's duration in seconds by ffprobe (0.0 when it cannot tell)."""
    cmd = ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
           "default=noprint_wrappers=1:nokey=1", str(path)]
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=30, check=False)
        return float(proc.stdout.decode().strip() or 0.0)
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return 0.0


@dataclass
class _Copy:
    """What copying one camera's segments produced: the master's and the MP4's paths,
    where the working copy starts, the remux's outcome and the master's hash."""

    master_path: Path
    mp4_path: Path
    first: StartPoint
    remuxed: RemuxResult
    master_sha256: str


class Exporter:
    """Runs exports for one site and recordings directory, signing each manifest with
    the site's key (``keyring``)."""

    def __init__(self, site: Site, recordings_root: Path, *, keyring: Keyring,
                 chunk: int = CHUNK, ffmpeg: str = "ffmpeg") -> None:
        self.site = site
        self.recordings_root = Path(os.path.realpath(recordings_root))
        self.segment_seconds = float(site.edge.segment_seconds)
        self.keyring = keyring
        self.chunk = chunk
        self.ffmpeg = ffmpeg

    def cameras(self, request: ExportRequest) -> list[Camera]:
        """The request's cameras, refusing any the site does not know."""
        out = []
        for camera_id in request.camera_ids:
            camera = self.site.camera(camera_id)
            if camera is None:
                raise ExportRefusedError(f"unknown camera {camera_id!r}")
            out.append(camera)
        return out

    def select(self, request: ExportRequest) -> list[Selection]:
        """Each camera's usable segments, bad segments and gaps over the window."""
        return [select(self.recordings_root, c.id, request.start, request.end,
                       segment_seconds=self.segment_seconds) for c in self.cameras(request)]

    def run(self, export_id: str, request: ExportRequest, directory: Path, *,
            role: str | None = None, progress: Progress | None = None,
            stop: threading.Event | None = None) -> ExportResult:
        """Export every camera of ``request`` into ``directory`` (which must not exist)."""
        report = progress or (lambda fraction, phase: None)
        halt = stop or threading.Event()
        cameras = self.cameras(request)
        key = self.keyring.current()  # before any copying: a keyring problem fails fast
        report(0.0, "checking segments")
        selections = self.select(request)
        total = max(1, sum(s.total_bytes for s in selections))
        directory.mkdir(parents=True, exist_ok=False)  # private by the services' umask
        needed = int(total * (SPACE_FACTOR_ZIP if len(cameras) > 1 else SPACE_FACTOR))
        free = shutil.disk_usage(directory).free
        if free < needed:
            directory.rmdir()
            raise ExportRefusedError(f"not enough disk space for the export: about "
                                     f"{needed / 1e9:.2f} GB needed, {free / 1e9:.2f} GB free")
        done = 0

        def advance(n: int, phase: str) -> None:
            nonlocal done
            done += n
            report(0.9 * done / total, phase)
            if halt.is_set():
                raise ExportCancelledError("export cancelled")

        ffmpeg_version = start_ffmpeg_version()  # runs while the cameras are copied
        try:
            entries = [self._camera(camera, selection, request, directory / camera.id, advance)
                       for camera, selection in zip(cameras, selections, strict=True)]
        except BaseException:
            ffmpeg_version()  # reap the version query before giving up
            raise
        if not any(e.master is not None for e in entries):
            ffmpeg_version()
            raise NothingRecordedError("nothing was recorded there: every segment of the "
                                       "window vanished or was unreadable when copied")
        report(0.92, "writing and signing the manifest")
        tools = write_tools(directory, self.keyring)
        manifest = Manifest(
            export_id=export_id, created_at=utcnow(),
            request=RequestEntry(
                requester=request.requester, role=role, case_id=request.case_id,
                reason=request.reason, start=request.start, end=request.end,
                camera_ids=list(request.camera_ids),
                place=request.place.describe() if request.place else None,
                place_query=request.place.model_dump(exclude_none=True)
                if request.place else None),
            software=software(ffmpeg_version()), cameras=entries,
            signing=signing_info(key), tools=tools)
        manifest_sha = write_manifest(directory, manifest)
        sign_export(directory, key, manifest_sha)
        download: Path | None = None
        download_sha: str | None = None
        if len(entries) > 1:
            report(0.95, "zipping")
            download = self._zip(directory, manifest, export_id)
            download_sha = sha256_file(download, self.chunk)[1]  # recorded with each download
        elif entries and entries[0].working_copy is not None:
            download = directory / entries[0].working_copy.path
            download_sha = entries[0].working_copy.sha256
        report(1.0, "done")
        return ExportResult(directory, manifest, manifest_sha, download, download_sha)

    # -- one camera, in steps ------------------------------------------------------------

    def _camera(self, camera: Camera, chosen: Selection, request: ExportRequest,
                folder: Path, advance: Callable[[int, str], None]) -> CameraEntry:
        """One camera's part: copy once into master and working copy, account for any
        segment that vanished meanwhile, then describe the master, the working copy and
        the notes."""
        entry = self._entry(camera, chosen, request)
        if not chosen.segments:
            return _nothing_recorded(entry)
        folder.mkdir()
        copy = self._copy(camera, chosen, request, folder, advance)
        copied = self._account_for_vanished(entry, chosen, request, copy.remuxed)
        if not copied:
            copy.master_path.unlink(missing_ok=True)
            copy.mp4_path.unlink(missing_ok=True)
            return _nothing_recorded(entry)
        entry.master = self._master(camera, copy, copied)
        first = copy.first
        if copied[0] is not chosen.segments[0]:  # the cut segment vanished: no cut made
            first = StartPoint(0, b"", copied[0].start, keyframe_forced=False)
        entry.actual_start = first.wallclock
        entry.actual_end = min(request.end, copied[-1].end)
        code, stderr = copy.remuxed.code, copy.remuxed.stderr
        if code != 0 or not copy.mp4_path.exists():
            entry.note = f"working copy failed (ffmpeg exit {code}): {stderr[-500:]}"
            log.error("export of %s: %s", camera.id, entry.note)
            return entry
        advance(0, f"hashing working copy of {camera.id}")
        entry.working_copy = self._working_copy(camera, copy.mp4_path, first, request)
        self._notes(entry, copied, stderr)
        entry.notes.extend(stream_notes(copied[0].path, copy.master_path.name))
        return entry

    @staticmethod
    def _entry(camera: Camera, chosen: Selection, request: ExportRequest) -> CameraEntry:
        """The camera's entry before anything is copied: who, where, the gaps found."""
        return CameraEntry(
            camera_id=camera.id, name=camera.name, location=camera.location,
            folder=camera.id, requested_start=request.start, requested_end=request.end,
            actual_start=None, actual_end=None, gaps=_gap_entries(chosen.gaps), segments=[],
            master=None, working_copy=None)

    def _copy(self, camera: Camera, chosen: Selection, request: ExportRequest, folder: Path,
              advance: Callable[[int, str], None]) -> _Copy:
        """One read of the segments: the master's bytes, each segment's hash, and the
        stream-copy remux into the working copy, from the keyframe at or before start."""
        name = f"{camera.id}_{stamp(request.start)}"
        master_path, mp4_path = folder / f"{name}_master.ts", folder / f"{name}.mp4"
        first = start_point(chosen.segments[0], request.start)
        master_hash = hashlib.sha256()
        phase = f"copying {camera.id}"
        with master_path.open("xb") as master:
            remuxed = remux_segments(
                chosen.segments, first, mp4_path, (request.end - first.wallclock).total_seconds(),
                timeout=FFMPEG_TIMEOUT_SECONDS, ffmpeg=self.ffmpeg,
                metadata=self._remux_metadata(camera, first.wallclock), chunk=self.chunk,
                taps=(master.write, master_hash.update), hash_segments=True,
                progress=lambda n: advance(n, phase))
        return _Copy(master_path, mp4_path, first, remuxed, master_hash.hexdigest())

    def _account_for_vanished(self, entry: CameraEntry, chosen: Selection,
                              request: ExportRequest, remuxed: RemuxResult) -> list[Segment]:
        """The segments really copied; those removed or unreadable between the check and
        the copy become gaps with their reason. Fills the entry's segment list."""
        vanished = {v.segment.path for v in remuxed.vanished}
        copied = [s for s in chosen.segments if s.path not in vanished]
        if vanished:
            entry.gaps = _gap_entries(explain_gaps(
                find_gaps(copied, request.start, request.end), [*chosen.bad, *remuxed.vanished]))
        entry.segments = [SegmentEntry(
            path=r.segment.path.relative_to(self.recordings_root).as_posix(),
            start=r.segment.start, end=r.segment.end, size=r.size, sha256=r.sha256)
            for r in remuxed.segments]
        return copied

    @staticmethod
    def _master(camera: Camera, copy: _Copy, copied: list[Segment]) -> MasterFile:
        return MasterFile(path=f"{camera.id}/{copy.master_path.name}",
                          size=sum(r.size for r in copy.remuxed.segments),
                          sha256=copy.master_sha256, start=copied[0].start,
                          end=copied[-1].end, segments=len(copy.remuxed.segments))

    def _working_copy(self, camera: Camera, mp4_path: Path, first: StartPoint,
                      request: ExportRequest) -> WorkingCopy:
        size, digest, head = sha256_file(mp4_path, self.chunk)
        seconds = mp4_duration(head)
        if seconds is None:
            seconds = probe_duration(mp4_path)
        lead = max(0.0, (request.start - first.wallclock).total_seconds())
        return WorkingCopy(
            path=f"{camera.id}/{mp4_path.name}", size=size, sha256=digest,
            start=first.wallclock, duration_seconds=round(seconds, 3),
            requested_start=request.start, keyframe_forced_earlier_start=first.keyframe_forced,
            keyframe_lead_seconds=round(lead, 3))

    @staticmethod
    def _notes(entry: CameraEntry, copied: list[Segment], stderr: str) -> None:
        """What the examiner should know about this camera's files. ``entry.notes`` is the
        place for structured per-camera notes (``CameraNote``: topic and text)."""
        inside = [g for g in entry.gaps
                  if copied[0].start < g.start and g.end <= copied[-1].end]
        if inside:
            entry.notes.append(CameraNote(topic="gaps", text=GAP_NOTE))
        wc = entry.working_copy
        if wc is not None and wc.keyframe_forced_earlier_start:
            entry.notes.append(CameraNote(
                topic="start", text=f"the working copy starts {wc.keyframe_lead_seconds:g} s "
                                    "before the requested start, at the keyframe before it"))
        texts = [GAP_NOTE] if inside else []
        if stderr:
            texts.append(f"ffmpeg said: {stderr[-500:]}")
            entry.notes.append(CameraNote(topic="ffmpeg", text=stderr[-500:]))
        entry.note = "; ".join(texts) or None

    @staticmethod
    def _remux_metadata(camera: Camera, start: datetime) -> dict[str, str]:
        comment = (f"compoundeye camera={camera.id} wallclock_start={to_rfc3339(start)} "
                   f"(stream copy of the master, never re-encoded)")
        return {"creation_time": to_rfc3339(start), "comment": comment,
                "title": f"{camera.id} {to_rfc3339(start)}"}

    def _zip(self, directory: Path, manifest: Manifest, export_id: str) -> Path:
        """A stored (uncompressed) zip of the manifest, its signature, the examiner's
        tools and every camera folder: unzipped, it is the export directory again."""
        target = directory / f"{export_id}.zip"
        files: list[FileEntry] = [*manifest.tools, *manifest.files()]
        with zipfile.ZipFile(target, "x", compression=zipfile.ZIP_STORED,
                             allowZip64=True) as archive:
            archive.write(directory / MANIFEST_NAME, MANIFEST_NAME)
            archive.write(directory / SIGNATURE_NAME, SIGNATURE_NAME)
            for entry in files:
                archive.write(directory / entry.path, entry.path)
        return target


def _gap_entries(gaps: list[GapSpan]) -> list[GapEntry]:
    return [GapEntry(start=g.start, end=g.end, seconds=g.seconds, reason=g.reason) for g in gaps]


def _nothing_recorded(entry: CameraEntry) -> CameraEntry:
    entry.note = NOTHING_RECORDED
    entry.notes.append(CameraNote(topic="coverage", text=NOTHING_RECORDED))
    return entry
