"""Verify an export: check the manifest's signature and recompute every hash it vouches for.

The signature (``signature.json``, Ed25519 over ``manifest.json``'s exact bytes) is
checked with the ``cryptography`` package; given the site's keyring, the signing key must
also be one of the site's keys (current or retired), so an export re-signed with some
other key fails. Each exported file (and each of the examiner's tools) is reported OK,
MISMATCH or MISSING; the master is also checked segment by segment (its bytes are the
source segments' bytes, in order, so a change is pinned to the segment it falls in). The
zip, when there is one, is checked member by member. The manifest's own SHA-256 is
reported, and compared with the one recorded at export time when that is given.

The stand-alone ``examiner/verify.py`` shipped in every export makes the same checks
with the standard library only.
"""

from __future__ import annotations

import base64
import hashlib
import os
import zipfile
from enum import StrEnum
from pathlib import Path, PurePosixPath
from typing import IO

from pydantic import BaseModel, Field, ValidationError

from evidence.manifest import (
    MANIFEST_NAME,
    SIGNATURE_NAME,
    FileEntry,
    Manifest,
    SignatureFile,
)
from evidence.manifest import read_manifest as _read_manifest
from evidence.signing import ALGORITHM, Keyring, PublicKeyInfo, fingerprint, key_id

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


class SignatureStatus(StrEnum):
    """The outcome of the signature check."""

    VALID = "valid"
    INVALID = "invalid"
    MISSING = "missing"
    UNSIGNED = "unsigned"
    """A format 1 export, made before exports were signed: hashes only."""
    FOREIGN_KEY = "foreign key"
    """Validly signed, but by a key that is not one of the site's."""


class SignatureCheck(BaseModel):
    """Who signed the manifest, and whether the signature holds."""

    status: SignatureStatus
    key_id: str | None = None
    fingerprint: str | None = None
    site_key: bool | None = Field(default=None, description="the key is one of the site's "
                                                            "(None: no keyring to ask)")
    detail: str | None = None

    @property
    def acceptable(self) -> bool:
        return self.status in (SignatureStatus.VALID, SignatureStatus.UNSIGNED)


class VerifyReport(BaseModel):
    """Whether an export is intact: its signature, then file by file."""

    directory: str
    ok: bool
    export_id: str | None = None
    case_id: str | None = None
    manifest_sha256: str | None = None
    manifest_expected_sha256: str | None = None
    signature: SignatureCheck | None = None
    files: list[FileCheck] = []
    errors: list[str] = []

    def finish(self) -> VerifyReport:
        """Set ``ok`` from the errors, the signature and the files."""
        self.ok = (not self.errors and self.signature is not None
                   and self.signature.acceptable
                   and all(f.status is FileStatus.OK for f in self.files))
        return self


def check_signature(manifest: Manifest, manifest_bytes: bytes, signature_bytes: bytes | None,
                    keyring: Keyring | None) -> SignatureCheck:
    """Check ``signature.json`` against the manifest's exact bytes and, given the site's
    keyring, that the key is the site's."""
    if signature_bytes is None:
        if manifest.format.endswith("/1") and manifest.signing is None:
            return SignatureCheck(status=SignatureStatus.UNSIGNED,
                                  detail="format 1 export, made before exports were signed")
        return SignatureCheck(status=SignatureStatus.MISSING,
                              detail=f"{SIGNATURE_NAME} is missing: the export is not signed")
    try:
        signature = SignatureFile.model_validate_json(signature_bytes)
        raw_signature = base64.b64decode(signature.signature, validate=True)
        key = PublicKeyInfo(key_id=signature.key_id, public_key=signature.public_key,
                            fingerprint=signature.fingerprint, created_at=manifest.created_at)
        raw_key = key.raw
    except (ValidationError, ValueError) as exc:
        return SignatureCheck(status=SignatureStatus.INVALID,
                              detail=f"{SIGNATURE_NAME} is unreadable: {exc}"[:2000])
    check = SignatureCheck(status=SignatureStatus.INVALID, key_id=key_id(raw_key),
                           fingerprint=fingerprint(raw_key))
    named = manifest.signing
    if (named is None or named.public_key != signature.public_key
            or named.key_id != check.key_id or signature.key_id != check.key_id):
        check.detail = "the signature's key is not the key the manifest names"
        return check
    if signature.algorithm != ALGORITHM or signature.signed_file != MANIFEST_NAME:
        check.detail = f"not an {ALGORITHM} signature of {MANIFEST_NAME}"
        return check
    if not key.verify(raw_signature, manifest_bytes):
        check.detail = f"the signature does not match {MANIFEST_NAME}: it was changed"
        return check
    check.status = SignatureStatus.VALID
    if keyring is not None:
        known = keyring.find(check.key_id)
        check.site_key = known is not None and known.public_key == signature.public_key
        if not check.site_key:
            check.status = SignatureStatus.FOREIGN_KEY
            check.detail = "validly signed, but not by any of the site's keys"
        elif known is not None and known.retired_at is not None:
            check.detail = f"signed with a key retired on {known.retired_at.isoformat()}"
    return check


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


def verify_export(directory: Path, expected_manifest_sha256: str | None = None, *,
                  keyring: Keyring | None = None) -> VerifyReport:
    """Check the signature and recompute the hashes of an export directory (or of the
    zip handed out for download) against its manifest. With ``keyring`` (the site's),
    the signing key must be one of the site's keys."""
    report = VerifyReport(directory=str(directory), ok=False,
                          manifest_expected_sha256=expected_manifest_sha256)
    if directory.is_file():
        return _verify_zip_alone(directory, report, keyring)
    try:
        manifest, manifest_sha = _read_manifest(directory)
        manifest_bytes = (directory / MANIFEST_NAME).read_bytes()
    except FileNotFoundError:
        report.errors.append(f"{MANIFEST_NAME} is missing: not a complete export")
        return report
    except (OSError, ValidationError, ValueError) as exc:
        report.errors.append(f"{MANIFEST_NAME} is unreadable or altered: {exc}"[:2000])
        return report
    _compare_manifest(report, manifest, manifest_sha)
    signature_path = directory / SIGNATURE_NAME
    report.signature = check_signature(
        manifest, manifest_bytes,
        signature_path.read_bytes() if signature_path.is_file() else None, keyring)
    for entry in [*manifest.files(), *manifest.tools]:
        path = _safe(directory, entry.path)
        if path is None:
            report.errors.append(f"unsafe path in manifest: {entry.path!r}")
            continue
        opener = path.open("rb") if path.is_file() else None
        report.files.append(_check(entry, opener, _segment_bounds(manifest, entry)))
    zips = sorted(directory.glob("*.zip"))
    for archive in zips:
        report.files.extend(_check_zip(archive, manifest, manifest_sha,
                                       signature_path if signature_path.is_file() else None))
    return report.finish()


def _compare_manifest(report: VerifyReport, manifest: Manifest, digest: str) -> None:
    report.export_id, report.manifest_sha256 = manifest.export_id, digest
    report.case_id = manifest.request.case_id
    expected = report.manifest_expected_sha256
    if expected and expected.lower() != digest:
        report.errors.append("manifest SHA-256 differs from the one recorded at export time")


def _verify_zip_alone(archive: Path, report: VerifyReport, keyring: Keyring | None
                      ) -> VerifyReport:
    """Verify a downloaded zip by itself: its signed manifest vouches for the others."""
    try:
        with zipfile.ZipFile(archive) as zf:
            data = zf.read(MANIFEST_NAME)
            signature = (zf.read(SIGNATURE_NAME) if SIGNATURE_NAME in zf.namelist()
                         else None)
        manifest = Manifest.model_validate_json(data)
    except KeyError:
        report.errors.append(f"{MANIFEST_NAME} is missing from the zip: not an export")
        return report
    except (OSError, zipfile.BadZipFile, ValidationError, ValueError) as exc:
        report.errors.append(f"not a readable export zip: {exc}"[:2000])
        return report
    digest = hashlib.sha256(data).hexdigest()
    _compare_manifest(report, manifest, digest)
    report.signature = check_signature(manifest, data, signature, keyring)
    report.files = _check_zip(archive, manifest, digest, None)
    return report.finish()


def _check_zip(archive: Path, manifest: Manifest, manifest_sha: str,
               signature: Path | None) -> list[FileCheck]:
    """Each member the manifest vouches for; the manifest member must be the manifest
    checked, and (inside an export directory) the signature member the signature."""
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
        same_as_file = [manifest_entry]
        if signature is not None:
            signed = signature.read_bytes()
            same_as_file.append(FileEntry(path=SIGNATURE_NAME, size=len(signed),
                                          sha256=hashlib.sha256(signed).hexdigest()))
        wanted = [*same_as_file, *manifest.tools, *manifest.files()]
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


def verify_details(report: VerifyReport) -> dict[str, object]:
    """What an ``export.verify`` audit row records: the outcome, the hashes and the key."""
    signature = report.signature
    return {
        "case_id": report.case_id, "ok": report.ok,
        "manifest_sha256": report.manifest_sha256,
        "signature": signature.status.value if signature else None,
        "signing_key_id": signature.key_id if signature else None,
        "failed": [f"{f.status.value} {f.path}" for f in report.files
                   if f.status is not FileStatus.OK][:50] + report.errors[:10],
    }
