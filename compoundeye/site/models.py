"""Nested pydantic models of the site file. Every model forbids unknown keys."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""Camera and door ids: safe as path components, topic levels and Redis key parts."""

_ID_RE = re.compile(ID_PATTERN)

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DetectMode = Literal["full", "health", "armed"]
"""How a camera's sub stream is watched.

``full``: every frame decoded, motion at ``detect_fps``, tamper once a second. ``health``:
keyframes only (one every ``edge.health.keyframe_interval_seconds``), tamper and offline
checks and a coarse motion measure, no motion events. ``armed``: full while the armed
schedule of one of the camera's zones is in force, health otherwise (a camera with no
armed zone has nothing that says when motion is not needed, and stays full)."""
DETECT_MODES: tuple[DetectMode, ...] = ("full", "health", "armed")
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def is_valid_id(value: str) -> bool:
    """Whether a camera or door id is well formed (and so safe in a path)."""
    return bool(_ID_RE.fullmatch(value)) and value not in {".", ".."}


class StrictModel(BaseModel):
    """Base for every site model: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


Point = tuple[float, float]


def _check_polygon(points: list[Point]) -> list[Point]:
    if len(points) < 3:
        raise ValueError("a polygon needs at least 3 points")
    for x, y in points:
        if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError(
                f"point ({x}, {y}) is outside the frame: coordinates are normalised to 0..1"
            )
    return points


Polygon = Annotated[list[Point], AfterValidator(_check_polygon)]


class Location(StrictModel):
    """Where a camera or door is: building, floor, zone, and WGS84 coordinates."""

    building: str = Field(
        min_length=1, max_length=64, description="required: search and uptime are per building"
    )
    floor: int = Field(default=0, ge=-10, le=200)
    zone: str = Field(default="", max_length=64)
    lat: float = Field(ge=-90, le=90, description="required: location search and the map")
    lon: float = Field(ge=-180, le=180, description="required: location search and the map")


class Zone(StrictModel):
    """A named region of a camera's picture; motion is reported per zone."""

    name: str = Field(
        min_length=1, max_length=64, description="required: motion events name their zone"
    )
    polygon: Polygon = Field(description="required: the region, normalised 0..1 points")
    armed_schedule: str | None = Field(
        default=None, description="schedule during which motion here raises an alert"
    )
    min_area: float = Field(default=0.002, gt=0, le=1, description="fraction of the frame")


class Camera(StrictModel):
    """One camera: its two RTSP streams, where it is and how to watch it."""

    id: str = Field(
        pattern=ID_PATTERN, description="required: names the recordings directory and events"
    )
    name: str = ""
    main_url: str = Field(min_length=1, description="required: the recorded stream")
    sub_url: str = Field(default="", description="detection stream; main_url when empty")
    location: Location = Field(description="required: search by place needs it")
    detect_fps: float = Field(default=5.0, gt=0, le=30)
    masks: list[Polygon] = Field(default_factory=list)
    zones: list[Zone] = Field(default_factory=list)
    record: bool = True
    sees_doors: list[str] = Field(default_factory=list)
    detect_mode: DetectMode | None = Field(
        default=None, description="full, health or armed; the edge's detect_mode when unset")

    @property
    def armed_schedules(self) -> list[str]:
        """The schedules under which motion in one of this camera's zones raises an alert."""
        return sorted({z.armed_schedule for z in self.zones if z.armed_schedule})

    @model_validator(mode="after")
    def _armed_needs_a_schedule(self) -> Self:
        if self.detect_mode == "armed" and not self.armed_schedules:
            raise ValueError("detect_mode 'armed' needs a zone with an armed_schedule "
                             "(it says when full-rate motion is needed)")
        return self

    @property
    def detect_url(self) -> str:
        """The stream the detectors read: the sub stream, or the main one without it."""
        return self.sub_url or self.main_url

    @field_validator("main_url", "sub_url")
    @classmethod
    def _rtsp_like(cls, value: str) -> str:
        # A URL with a ${VAR} reference is checked once resolved (by the processes that
        # connect, and check-config); the others keep it as written.
        if value and "://" not in value and "${" not in value:
            raise ValueError("a stream URL needs a scheme, e.g. rtsp://host:8554/cam")
        return value


class TimeRange(StrictModel):
    """Weekdays and a half-open time span ``[start, end)`` of local time.

    ``end`` before ``start`` runs past midnight into the next day (22:00-06:00 on ``fri``
    covers Friday night until Saturday 06:00); ``end`` equal to ``start`` (the default,
    00:00-00:00) is the whole day. Times are written as quoted or unquoted ``"HH:MM"``.
    """

    days: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS), min_length=1)
    start: time = time(0, 0)
    end: time = time(0, 0)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock_time(cls, value: Any) -> Any:
        # An int here would be read by pydantic as seconds since midnight, silently.
        if isinstance(value, bool | int | float):
            raise ValueError("write a time of day as \"HH:MM\", e.g. \"22:00\"")
        return value

    @field_validator("start", "end")
    @classmethod
    def _naive_clock(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("a schedule time is local to the site's timezone: no offset")
        return value

    def contains(self, moment: datetime) -> bool:
        """Whether a local datetime falls in this range."""
        day = WEEKDAYS[moment.weekday()]
        at = moment.time().replace(tzinfo=None)
        if self.start == self.end:
            return day in self.days
        if self.start < self.end:
            return day in self.days and self.start <= at < self.end
        if at >= self.start:
            return day in self.days
        previous = WEEKDAYS[(moment - timedelta(days=1)).weekday()]
        return previous in self.days and at < self.end


class Schedule(StrictModel):
    """A named weekly schedule (e.g. office hours, night)."""

    ranges: list[TimeRange] = Field(
        min_length=1, description="required: a schedule without ranges would never be in force"
    )

    def active(self, moment: datetime, tz: ZoneInfo) -> bool:
        """Whether the schedule is in force at an aware ``moment`` in the site's zone."""
        if moment.tzinfo is None:
            raise ValueError("naive datetime: pass an aware moment")
        local = moment.astimezone(tz)
        return any(r.contains(local) for r in self.ranges)


class Door(StrictModel):
    """A door controller at an entrance, and the cameras that see it."""

    id: str = Field(
        pattern=ID_PATTERN, description="required: the MQTT topic and events name the door"
    )
    name: str = ""
    location: Location = Field(description="required: building and impossible-travel rules")
    cameras: list[str] = Field(default_factory=list)
    held_open_seconds: float = Field(default=30.0, gt=0, le=86_400)
    schedule: str | None = Field(
        default=None, description="access schedule; a grant outside it is an after-hours alert"
    )


class Priorities(StrictModel):
    """Alert priority per rule, 1 highest."""

    door_forced: int = Field(default=1, ge=1, le=5)
    door_held: int = Field(default=2, ge=1, le=5)
    door_tamper: int = Field(default=1, ge=1, le=5)
    door_denied_burst: int = Field(default=2, ge=1, le=5)
    door_after_hours: int = Field(default=3, ge=1, le=5)
    door_impossible_travel: int = Field(default=2, ge=1, le=5)
    door_offline: int = Field(default=2, ge=1, le=5)
    camera_tamper: int = Field(default=2, ge=1, le=5)
    camera_offline: int = Field(default=3, ge=1, le=5)
    camera_recording: int = Field(default=2, ge=1, le=5)
    motion_armed: int = Field(default=3, ge=1, le=5)
    activity_anomaly: int = Field(default=4, ge=1, le=5)
    retention_blocked: int = Field(default=2, ge=1, le=5)


class Retention(StrictModel):
    """How long recordings and snapshots are kept. Exports are never removed."""

    recordings_days: float = Field(default=14, gt=0)
    snapshots_days: float = Field(default=30, gt=0)
    min_free_bytes: int = Field(default=5 * 1024**3, ge=0)


class DoorRules(StrictModel):
    """Thresholds of the door rules."""

    forced_grace_seconds: float = Field(default=5.0, gt=0)
    denied_burst_count: int = Field(default=5, ge=2)
    denied_burst_window_seconds: float = Field(default=60.0, gt=0)
    travel_max_speed_mps: float = Field(default=3.0, gt=0)
    travel_min_distance_m: float = Field(default=200.0, ge=0)
    heartbeat_timeout_seconds: float = Field(default=90.0, gt=0)


class Alerting(StrictModel):
    """Dedupe, correlation and auto-resolve settings of the alerting service."""

    cooldown_seconds: float = Field(default=120.0, ge=0)
    clip_before_seconds: float = Field(default=10.0, ge=0)
    clip_after_seconds: float = Field(default=30.0, ge=0)
    auto_resolve: bool = True
    claim_idle_seconds: float = Field(default=30.0, gt=0)
    max_deliveries: int = Field(default=5, ge=1)
    camera_stale_seconds: float = Field(default=30.0, gt=0)


class HealthMode(StrictModel):
    """How a camera in health mode is watched (see :data:`DetectMode`)."""

    keyframe_interval_seconds: float = Field(
        default=4.0, gt=0, le=600,
        description="decode one keyframe per this much stream time (tamper checks need a "
        "picture every few seconds); every keyframe while a check waits for confirmation")
    bitrate_change: float = Field(
        default=2.0, gt=1,
        description="the bytes of a GOP's predicted frames rising above or falling below "
        "their running level by this factor make the next keyframe due (a frozen picture "
        "collapses them, a moved view raises them)")


class Edge(StrictModel):
    """Edge worker defaults."""

    segment_seconds: int = Field(default=10, ge=2, le=600)
    offline_after_seconds: float = Field(default=10.0, gt=0)
    heartbeat_ttl_seconds: int = Field(default=15, ge=2)
    queue_size: int = Field(default=4, ge=1)
    door_listener: bool = Field(default=False, description="run the MQTT door listener here")
    metrics_interval_seconds: float = Field(default=10.0, gt=0)
    recording_grace_seconds: float = Field(
        default=5.0, ge=0, le=600,
        description="a recording camera that finished no segment for 2 x segment_seconds "
        "plus this is failing (camera.recording_failed, an alert)")
    colour_frames: bool = Field(
        default=False,
        description="convert sampled frames to BGR (colour snapshots, about twice the "
        "per-frame cost); by default detection reads the decoder's luma plane",
    )
    detect_mode: DetectMode = Field(
        default="full", description="every camera's mode unless the camera sets its own")
    health: HealthMode = HealthMode()


class Mqtt(StrictModel):
    """Door controller topics."""

    topic_prefix: str = Field(default="doors", pattern=r"^[A-Za-z0-9_/-]+$")
    max_payload_bytes: int = Field(default=16 * 1024, ge=64)
    client_id: str = Field(default="compoundeye-doors", pattern=r"^[A-Za-z0-9_-]{1,64}$")


class CameraFile(StrictModel):
    """A CSV file of cameras, relative to the site file."""

    path: str = Field(min_length=1, description="required: the CSV file to read")


class Site(StrictModel):
    """The whole site file.

    Once loaded, ``cameras`` holds the YAML cameras followed by every CSV file's, and
    ``camera_files`` only records where those came from: to write a loaded site back as a
    single YAML file, dump it without ``camera_files``.
    """

    name: str = Field(default="compound", max_length=128)
    timezone: str = "UTC"
    camera_files: list[CameraFile] = Field(default_factory=list)
    cameras: list[Camera] = Field(default_factory=list)
    doors: list[Door] = Field(default_factory=list)
    schedules: dict[Annotated[str, Field(pattern=ID_PATTERN)], Schedule] = Field(
        default_factory=dict
    )
    priorities: Priorities = Priorities()
    retention: Retention = Retention()
    door_rules: DoorRules = DoorRules()
    alerting: Alerting = Alerting()
    edge: Edge = Edge()
    mqtt: Mqtt = Mqtt()

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def tz(self) -> ZoneInfo:
        """The site's time zone, in which schedules are read."""
        return ZoneInfo(self.timezone)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy, without the cached indexes: they would describe the old cameras and doors."""
        copied = super().model_copy(update=update, deep=deep)
        for name in _CACHED_INDEXES:
            copied.__dict__.pop(name, None)
        return copied

    def schedule_active(self, name: str, moment: datetime) -> bool:
        """Whether the named schedule is in force at an aware moment (False if unknown)."""
        schedule = self.schedules.get(name)
        return schedule is not None and schedule.active(moment, self.tz)

    def detect_mode_of(self, camera: Camera) -> DetectMode:
        """The camera's configured mode: its own, else the edge default (``armed`` without
        an armed zone is ``full``)."""
        mode = camera.detect_mode or self.edge.detect_mode
        if mode == "armed" and not camera.armed_schedules:
            return "full"
        return mode

    def needs_full_rate(self, camera: Camera, moment: datetime) -> bool:
        """Whether the camera needs full-rate motion at an aware moment (else health mode)."""
        mode = self.detect_mode_of(camera)
        if mode == "armed":
            return any(self.schedule_active(name, moment) for name in camera.armed_schedules)
        return mode == "full"

    def camera(self, camera_id: str) -> Camera | None:
        """The camera with this id, or None."""
        return self.cameras_by_id.get(camera_id)

    def door(self, door_id: str) -> Door | None:
        """The door with this id, or None."""
        return self.doors_by_id.get(door_id)

    @cached_property
    def cameras_by_id(self) -> dict[str, Camera]:
        return {c.id: c for c in self.cameras}

    @cached_property
    def doors_by_id(self) -> dict[str, Door]:
        return {d.id: d for d in self.doors}

    @cached_property
    def _door_cameras(self) -> dict[str, list[str]]:
        index: dict[str, list[str]] = {d.id: list(d.cameras) for d in self.doors}
        for camera in self.cameras:
            for door_id in camera.sees_doors:
                seen = index.setdefault(door_id, [])
                if camera.id not in seen:
                    seen.append(camera.id)
        return index

    def cameras_for_door(self, door_id: str) -> list[str]:
        """Cameras that see a door: the door's own list plus cameras naming the door."""
        return list(self._door_cameras.get(door_id, []))


_CACHED_INDEXES = tuple(
    name for name, value in vars(Site).items() if isinstance(value, cached_property)
)
