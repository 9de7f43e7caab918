"""The export manifest: the request, each camera's sources and products with their
SHA-256, the software that made them and the key that signs it. Written last, beside
the exported files, then signed (``signature.json``: an Ed25519 signature of the
manifest's exact bytes)."""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from compoundeye import __version__
from compoundeye.site.models import Location

MANIFEST_NAME = "manifest.json"
SIGNATURE_NAME = "signature.json"
PUBLIC_KEYS_NAME = "public-keys.json"
MANIFEST_FORMAT = "compoundeye-export/2"
"""Format 2 is signed and carries the examiner's tools; format 1 (unsigned) still reads."""
SIGNATURE_FORMAT = "compoundeye-signature/1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SegmentEntry(_Model):
    """One source segment, as recorded: path relative to the recordings root."""

    path: str
    start: AwareDatetime
    end: AwareDatetime
    size: int
    sha256: str


class FileEntry(_Model):
    """An exported file, path relative to the export directory."""

    path: str
    size: int
    sha256: str


class MasterFile(FileEntry):
    """The covering source segments' bytes concatenated unchanged, in time order."""

    start: AwareDatetime = Field(description="start of its first segment")
    end: AwareDatetime = Field(description="end of its last segment")
    segments: int


class WorkingCopy(FileEntry):
    """The MP4 remuxed by stream copy from the master and trimmed to the window."""

    start: AwareDatetime = Field(description="wall-clock time of its first frame")
    duration_seconds: float
    requested_start: AwareDatetime
    keyframe_forced_earlier_start: bool
    keyframe_lead_seconds: float = Field(
        description="how much earlier than requested it starts (the keyframe before)")


class GapEntry(_Model):
    """A part of the window without usable recording."""

    start: AwareDatetime
    end: AwareDatetime
    seconds: float
    reason: str


class CameraNote(_Model):
    """Something an examiner should know about one camera's files (how its audio was
    stored, a keyframe-forced start, ...): a short topic and the text."""

    topic: str = Field(max_length=64)
    text: str = Field(max_length=4000)


class CameraEntry(_Model):
    """One camera's part of the export."""

    camera_id: str
    name: str
    location: Location
    folder: str
    requested_start: AwareDatetime
    requested_end: AwareDatetime
    actual_start: AwareDatetime | None
    actual_end: AwareDatetime | None
    gaps: list[GapEntry]
    segments: list[SegmentEntry]
    master: MasterFile | None
    working_copy: WorkingCopy | None
    note: str | None = None
    notes: list[CameraNote] = Field(default_factory=list,
                                    description="per-camera notes for the examiner")


class RequestEntry(_Model):
    """Who asked for what and why."""

    requester: str
    role: str | None
    case_id: str
    reason: str
    start: AwareDatetime
    end: AwareDatetime
    camera_ids: list[str]
    place: str | None
    place_query: dict[str, object] | None


class Software(_Model):
    """What made the export, and where."""

    compoundeye_version: str
    ffmpeg_version: str
    host: str
    platform: str


class SigningInfo(_Model):
    """The key that signs this manifest (its signature is in ``signature.json``)."""

    algorithm: str
    key_id: str
    public_key: str = Field(description="raw 32-byte Ed25519 public key, base64")
    fingerprint: str = Field(description="SHA-256 of the raw public key, hex")


class Manifest(_Model):
    """Everything needed to vouch for an export's bytes."""

    format: str = MANIFEST_FORMAT
    export_id: str
    created_at: AwareDatetime
    hash_algorithm: str = "sha256"
    request: RequestEntry
    software: Software
    cameras: list[CameraEntry]
    signing: SigningInfo | None = Field(default=None, description="None only in format 1")
    tools: list[FileEntry] = Field(
        default_factory=list,
        description="the stand-alone verifier, the examiner's README and the public keys")

    def files(self) -> list[FileEntry]:
        """Every exported file the manifest vouches for."""
        out: list[FileEntry] = []
        for camera in self.cameras:
            if camera.master is not None:
                out.append(camera.master)
            if camera.working_copy is not None:
                out.append(camera.working_copy)
        return out


class SignatureFile(_Model):
    """``signature.json``: the Ed25519 signature of ``manifest.json``'s exact bytes."""

    format: str = SIGNATURE_FORMAT
    algorithm: str
    signed_file: str = MANIFEST_NAME
    key_id: str
    public_key: str
    fingerprint: str
    manifest_sha256: str
    signature: str = Field(description="64-byte Ed25519 signature, base64")


def ffmpeg_version() -> str:
    """First line of ``ffmpeg -version``, or why it could not be read."""
    return start_ffmpeg_version()()


def start_ffmpeg_version() -> Callable[[], str]:
    """Start ``ffmpeg -version`` now and return a function that collects its first line,
    so the query overlaps the export instead of adding to it."""
    try:
        proc = subprocess.Popen(["ffmpeg", "-version"], stdout=subprocess.PIPE,
                                stderr=subprocess.DEVNULL)
    except OSError as exc:
        reason = f"unknown ({exc})"
        return lambda: reason

    def collect() -> str:
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            return "unknown (ffmpeg -version timed out)"
        lines = out.decode("utf-8", "replace").splitlines()
        return lines[0].strip() if lines else "unknown"

    return collect


def software(ffmpeg: str | None = None) -> Software:
    """The software description for a manifest."""
    return Software(
        compoundeye_version=__version__,
        ffmpeg_version=ffmpeg or ffmpeg_version(),
        host=socket.gethostname(),
        platform=platform.platform(),
    )


def dump(manifest: Manifest) -> bytes:
    """The manifest as written to disk."""
    return (manifest.model_dump_json(indent=2) + "\n").encode("utf-8")


def write_durably(path: Path, data: bytes) -> None:
    """Write a file atomically (temporary name, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


def write_manifest(directory: Path, manifest: Manifest) -> str:
    """Write ``manifest.json`` atomically and durably; returns its SHA-256."""
    data = dump(manifest)
    write_durably(directory / MANIFEST_NAME, data)
    return hashlib.sha256(data).hexdigest()


def read_signature(directory: Path) -> SignatureFile:
    """``signature.json`` of an export directory."""
    return SignatureFile.model_validate_json((directory / SIGNATURE_NAME).read_bytes())


def read_manifest(directory: Path) -> tuple[Manifest, str]:
    """The manifest of an export directory and the SHA-256 of its bytes."""
    data = (directory / MANIFEST_NAME).read_bytes()
    return Manifest.model_validate_json(data), hashlib.sha256(data).hexdigest()


def stamp(moment: datetime) -> str:
    """A compact UTC stamp for file names, e.g. ``20261103T214000Z``."""
    return moment.strftime("%Y%m%dT%H%M%SZ")
