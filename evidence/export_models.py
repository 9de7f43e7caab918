"""The export request, the limits it is checked against, and an export's status."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from compoundeye.site.models import is_valid_id
from compoundeye.timeutil import UtcTimestamp
from evidence.search import Place, Span

_EXPORT_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class ExportRefusedError(ValueError):
    """A request refused before any work starts; ``str()`` is the reason for the caller."""


class NothingRecordedError(ExportRefusedError):
    """No camera of the request recorded anything usable in the window."""


class ExportNotFoundError(LookupError):
    """No export with this id."""


def new_export_id() -> str:
    """A fresh export id: 32 lowercase hex digits (a UUID4 without dashes)."""
    return uuid.uuid4().hex


def export_dir(exports_root: Path, export_id: str) -> Path:
    """The directory of an export, refusing any id that is not 32 hex digits (or a UUID)."""
    text = export_id.replace("-", "").lower() if len(export_id) == 36 else export_id
    if not _EXPORT_ID_RE.fullmatch(text):
        raise ExportNotFoundError(f"invalid export id {export_id!r}")
    return exports_root / text


def _no_control(value: str) -> str:
    if _CONTROL_RE.search(value):
        raise ValueError("control characters are not allowed")
    return value


class ExportRequest(BaseModel):
    """What an investigator asks for: cameras, a window, the case and the reason."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    camera_ids: list[str] = Field(min_length=1, max_length=4096)
    start: UtcTimestamp
    end: UtcTimestamp
    case_id: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=4000)
    requester: str = Field(min_length=1, max_length=128)
    place: Place | None = Field(default=None, description="how the cameras were chosen")

    @field_validator("camera_ids")
    @classmethod
    def _safe_ids(cls, value: list[str]) -> list[str]:
        for camera_id in value:
            if not is_valid_id(camera_id):
                raise ValueError(f"invalid camera id {camera_id!r}")
        return list(dict.fromkeys(value))

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)

    @field_validator("case_id", "requester")
    @classmethod
    def _single_line(cls, value: str) -> str:
        if "\n" in value or "\t" in value:
            raise ValueError("must be a single line")
        return _no_control(value).strip() or _blank()

    @field_validator("reason")
    @classmethod
    def _text(cls, value: str) -> str:
        return _no_control(value).strip() or _blank()

    @model_validator(mode="after")
    def _window(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def _blank() -> str:
    raise ValueError("must not be blank")


class ExportLimits(BaseSettings):
    """Bounds on one export and on the background runner; from ``CE_EXPORT_MAX_HOURS``,
    ``CE_EXPORT_MAX_CAMERAS``, ``CE_EXPORT_MAX_CONCURRENT``, ``CE_EXPORT_MAX_PENDING``."""

    model_config = SettingsConfigDict(env_prefix="CE_EXPORT_", extra="ignore", frozen=True)

    max_hours: float = Field(default=6.0, gt=0)
    max_cameras: int = Field(default=32, ge=1)
    max_concurrent: int = Field(default=2, ge=1, le=16)
    max_pending: int = Field(default=16, ge=1, description="queued plus running")


class ExportState(StrEnum):
    """Where an export is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class CameraPlan(BaseModel):
    """What one camera recorded over the requested window, known before the export
    starts: so an investigator sees the gaps up front, not after waiting."""

    camera_id: str
    segments: int
    recorded_seconds: float
    coverage: float = Field(description="recorded fraction of the window, 0..1")
    gaps: list[Span]


class ExportStatus(BaseModel):
    """A snapshot of one export: state, progress 0..1 with the phase, and the outcome."""

    id: str
    state: ExportState
    progress: float = 0.0
    phase: str = "queued"
    case_id: str
    requester: str
    camera_ids: list[str]
    start: datetime
    end: datetime
    created_at: datetime
    finished_at: datetime | None = None
    error: str | None = None
    directory: str | None = None
    manifest_sha256: str | None = None
    download: str | None = Field(default=None, description="path of the MP4 or the zip")
    download_sha256: str | None = None
    coverage: list[CameraPlan] = Field(
        default_factory=list, description="per camera, what was recorded in the window and "
                                          "the gaps, as checked when the export was asked for")
