"""Verify an export: recompute every hash its manifest vouches for.

Each exported file is reported OK, MISMATCH or MISSING; the master is also checked
segment by segment (its bytes are the source segments' bytes, in order, so a change is
pinned to the segment it falls in). The zip, when there is one, is checked member by
member. The manifest's own SHA-256 is reported, and compared with the one recorded at
export time (audit trail / export record) when that is given.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import IO

from pydantic import BaseModel, ValidationError

from evidence.manifest import MANIFEST_NAME, FileEntry, Manifest
from evidence.manifest import read_manifest as _read_manifest

CHUNK = 1 << 20


class FileStatus(StrEnum):
    """The outcome for one file."""

    OK = "OK"
    MISMATCH = "MISMATCH"
    MISSING = "MISSING"


class FileCheck(BaseModel):
    """One file of the export, what the manifest says and what is there."""

    path: str
    status: FileStatus
    expected_sha256: str
    actual_sha256: str | None = None
    expected_size: int
    actual_size: int | None = None
    detail: str | None = None


class VerifyReport(BaseModel):
    """Whether an export is intact, file by file."""

    directory: str
    ok: bool
    export_id: str | None = None
    manifest_sha256: str | None = None
    manifest_expected_sha256: str | None = None
    files: list[FileCheck] = []
    errors: list[str] = []


def _safe(directory: Path, relative: str) -> Path | None:
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts or "\x00" in relative or not pure.parts:
        return None
    path = directory / pure
    if not Path(os.path.realpath(path)).is_relative_to(os.path.realpath(directory)):
        return None
    return path


def _check(entry: FileEntry, opener: IO[bytes] | None, segments: list[tuple[int, str, str]]
           ) -> FileCheck:
    check = FileCheck(path=entry.path, status=FileStatus.MISSING, expected_sha256=entry.sha256,
                      expected_size=entry.size)
    if opener is None:
        check.detail = "file not found"
        return check
    try:
        with opener as handle:
            size, digest, bad = _hash_segments(handle, segments)
    except (OSError, zipfile.BadZipFile) as exc:
        check.status, check.detail = FileStatus.MISMATCH, f"unreadable: {exc}"
        return check
    check.actual_size, check.actual_sha256 = size, digest
    if digest == entry.sha256 and size == entry.size and not bad:
        check.status = FileStatus.OK
    else:
        check.status = FileStatus.MISMATCH
        details = []
        if size != entry.size:
            details.append(f"size {size} != {entry.size}")
        if bad:
            details.append("differs within segment(s): " + ", ".join(bad[:10]))
        check.detail = "; ".join(details) or "content changed"
    return check


def _hash_segments(handle: IO[bytes], segments: list[tuple[int, str, str]]
                   ) -> tuple[int, str, list[str]]:
    """Hash a stream once, and each of its ``(end offset, sha256, name)`` slices."""
    whole = hashlib.sha256()
    offset = 0
    index = 0
    part = hashlib.sha256()
    bad: list[str] = []
    while chunk := handle.read(CHUNK):
        whole.update(chunk)
        view = memoryview(chunk)
        while len(view) and index < len(segments):
            end, expected, name = segments[index]
            take = min(len(view), end - offset)
            part.update(view[:take])
            view = view[take:]
            offset += take
            if offset == end:
                if part.hexdigest() != expected:
                    bad.append(name)
                index += 1
                part = hashlib.sha256()
        offset += len(view)
    if segments and index < len(segments):
        bad.extend(name for _, _, name in segments[index:])
    return offset, whole.hexdigest(), bad


def _segment_bounds(manifest: Manifest, entry: FileEntry) -> list[tuple[int, str, str]]:
    for camera in manifest.cameras:
        if camera.master is not None and camera.master.path == entry.path:
            out, end = [], 0
            for seg in camera.segments:
                end += seg.size
                out.append((end, seg.sha256, seg.path))
            return out
    return []


def verify_export(directory: Path, expected_manifest_sha256: str | None = None
                  ) -> VerifyReport:
    """Recompute the hashes of an export directory (or of the zip handed out for
    download) against its manifest."""
    report = VerifyReport(directory=str(directory), ok=False,
                          manifest_expected_sha256=expected_manifest_sha256)
    if directory.is_file():
        return _verify_zip_alone(directory, report)
    try:
        manifest, manifest_sha = _read_manifest(directory)
    except FileNotFoundError:
        report.errors.append(f"{MANIFEST_NAME} is missing: not a complete export")
        return report
    except (OSError, ValidationError, ValueError) as exc:
        report.errors.append(f"{MANIFEST_NAME} is unreadable or altered: {exc}"[:2000])
        return report
    _compare_manifest(report, manifest, manifest_sha)
    for entry in manifest.files():
        path = _safe(directory, entry.path)
        if path is None:
            report.errors.append(f"unsafe path in manifest: {entry.path!r}")
            continue
        opener = path.open("rb") if path.is_file() else None
        report.files.append(_check(entry, opener, _segment_bounds(manifest, entry)))
    zips = sorted(directory.glob("*.zip"))
    for archive in zips:
        report.files.extend(_check_zip(archive, manifest, manifest_sha))
    report.ok = not report.errors and all(f.status is FileStatus.OK for f in report.files)
    return report


def _compare_manifest(report: VerifyReport, manifest: Manifest, digest: str) -> None:
    report.export_id, report.manifest_sha256 = manifest.export_id, digest
    expected = report.manifest_expected_sha256
    if expected and expected.lower() != digest:
        report.errors.append("manifest SHA-256 differs from the one recorded at export time")


def _verify_zip_alone(archive: Path, report: VerifyReport) -> VerifyReport:
    """Verify a downloaded zip by itself: its manifest member vouches for the others."""
    try:
        with zipfile.ZipFile(archive) as zf:
            data = zf.read(MANIFEST_NAME)
        manifest = Manifest.model_validate_json(data)
    except KeyError:
        report.errors.append(f"{MANIFEST_NAME} is missing from the zip: not an export")
        return report
    except (OSError, zipfile.BadZipFile, ValidationError, ValueError) as exc:
        report.errors.append(f"not a readable export zip: {exc}"[:2000])
        return report
    digest = hashlib.sha256(data).hexdigest()
    _compare_manifest(report, manifest, digest)
    report.files = _check_zip(archive, manifest, digest)
    report.ok = not report.errors and all(f.status is FileStatus.OK for f in report.files)
    return report


def _check_zip(archive: Path, manifest: Manifest, manifest_sha: str) -> list[FileCheck]:
    label = archive.name
    try:
        zf = zipfile.ZipFile(archive)
    except (OSError, zipfile.BadZipFile) as exc:
        return [FileCheck(path=label, status=FileStatus.MISMATCH, expected_sha256="",
                          expected_size=0, detail=f"not a readable zip: {exc}")]
    out = []
    with zf:
        names = set(zf.namelist())
        manifest_entry = FileEntry(path=MANIFEST_NAME, size=-1, sha256=manifest_sha)
        wanted = [manifest_entry, *manifest.files()]
        for entry in wanted:
            try:
                opener = zf.open(entry.path) if entry.path in names else None
            except (OSError, zipfile.BadZipFile) as exc:
                out.append(FileCheck(path=f"{label}:{entry.path}", status=FileStatus.MISMATCH,
                                     expected_sha256=entry.sha256, expected_size=entry.size,
                                     detail=f"unreadable: {exc}"))
                continue
            check = _check(entry, opener, _segment_bounds(manifest, entry))
            if entry is manifest_entry and check.actual_sha256 == manifest_sha:
                check.status, check.detail, check.expected_size = (
                    FileStatus.OK, None, check.actual_size or 0)
            check.path = f"{label}:{entry.path}"
            out.append(check)
    return out
