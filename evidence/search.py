"""Search by time and place: which cameras could have seen a place, and what each
recorded over a window (coverage and gaps), straight from the recordings layout."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from compoundeye.site.models import Camera, Location, Site, is_valid_id
from evidence.segments import select

EARTH_RADIUS_M = 6_371_008.8
DEFAULT_RADIUS_M = 50.0
MAX_SEARCH_HOURS = 24.0


class SearchError(ValueError):
    """A search that cannot be answered as asked (unknown door, bad window, ...)."""


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


class Place(BaseModel):
    """Where to look: a building (optionally a zone of it), a zone, a door, a point with
    a radius, or explicit camera ids. Exactly one kind of place per search."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    building: str | None = Field(default=None, min_length=1, max_length=64)
    zone: str | None = Field(default=None, min_length=1, max_length=64)
    door: str | None = Field(default=None, min_length=1, max_length=64)
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    radius_m: float = Field(default=DEFAULT_RADIUS_M, ge=0, le=10_000)
    camera_ids: list[str] | None = Field(default=None, min_length=1, max_length=4096)

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.lat is None) != (self.lon is None):
            raise ValueError("a point needs both lat and lon")
        kinds = [
            self.building is not None or self.zone is not None,
            self.door is not None,
            self.lat is not None,
            self.camera_ids is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError(
                "give exactly one place: building (and/or zone), door, lat+lon, or camera ids"
            )
        for camera_id in self.camera_ids or []:
            if not is_valid_id(camera_id):
                raise ValueError(f"invalid camera id {camera_id!r}")
        if self.door is not None and not is_valid_id(self.door):
            raise ValueError(f"invalid door id {self.door!r}")
        return self

    def describe(self) -> str:
        """A short human description, for manifests and audit records."""
        if self.door is not None:
            return f"door {self.door} (+{self.radius_m:g} m)"
        if self.lat is not None:
            return f"within {self.radius_m:g} m of {self.lat:.6f},{self.lon:.6f}"
        if self.camera_ids is not None:
            return "cameras " + ", ".join(self.camera_ids)
        parts = [f"building {self.building}" if self.building else "",
                 f"zone {self.zone}" if self.zone else ""]
        return " ".join(p for p in parts if p)


class Span(BaseModel):
    """A time span of a camera's coverage, or a gap with its reason."""

    start: AwareDatetime
    end: AwareDatetime
    reason: str | None = None


class CameraCoverage(BaseModel):
    """One camera found by a search: where it is, why it matched, what it recorded."""

    camera_id: str
    name: str
    location: Location
    matched_by: str
    distance_m: float | None = None
    segments: int
    recorded_seconds: float
    coverage: float = Field(description="recorded fraction of the window, 0..1")
    covered: list[Span]
    gaps: list[Span]


def resolve_cameras(site: Site, place: Place) -> list[tuple[Camera, str, float | None]]:
    """The cameras a place designates, each with why it matched and its distance."""
    if place.camera_ids is not None:
        out: list[tuple[Camera, str, float | None]] = []
        for camera_id in dict.fromkeys(place.camera_ids):
            camera = site.camera(camera_id)
            if camera is None:
                raise SearchError(f"unknown camera {camera_id!r}")
            out.append((camera, "camera id", None))
        return out
    if place.door is not None:
        door = site.door(place.door)
        if door is None:
            raise SearchError(f"unknown door {place.door!r}")
        seeing = site.cameras_for_door(door.id)
        found: dict[str, tuple[Camera, str, float | None]] = {}
        for camera_id in seeing:
            camera = site.camera(camera_id)
            if camera is not None:
                found[camera_id] = (camera, "sees door", _distance(camera, door.location))
        for camera, distance in _near(site, door.location.lat, door.location.lon,
                                      place.radius_m):
            found.setdefault(camera.id, (camera, "within radius of door", distance))
        return list(found.values())
    if place.lat is not None and place.lon is not None:
        return [(c, "within radius", d)
                for c, d in _near(site, place.lat, place.lon, place.radius_m)]
    return [
        (c, "building/zone", None)
        for c in site.cameras
        if (place.building is None or c.location.building == place.building)
        and (place.zone is None or c.location.zone == place.zone)
    ]


def _distance(camera: Camera, where: Location) -> float:
    return haversine_m(where.lat, where.lon, camera.location.lat, camera.location.lon)


def _near(site: Site, lat: float, lon: float, radius_m: float) -> list[tuple[Camera, float]]:
    hits = []
    for camera in site.cameras:
        distance = haversine_m(lat, lon, camera.location.lat, camera.location.lon)
        if distance <= radius_m:
            hits.append((camera, distance))
    hits.sort(key=lambda hit: hit[1])
    return hits


def check_window(start: datetime, end: datetime, *, max_hours: float) -> None:
    """Refuse a naive, empty, inverted or oversized window with a clear reason."""
    if start.tzinfo is None or end.tzinfo is None:
        raise SearchError("start and end must carry a UTC offset")
    if end <= start:
        raise SearchError("end must be after start")
    if end - start > timedelta(hours=max_hours):
        raise SearchError(f"window longer than {max_hours:g} h")


def search_coverage(
    site: Site,
    recordings_root: Path,
    start: datetime,
    end: datetime,
    place: Place,
    *,
    segment_seconds: float | None = None,
    max_hours: float = MAX_SEARCH_HOURS,
) -> list[CameraCoverage]:
    """Cameras designated by ``place`` with their recorded coverage and gaps in
    ``[start, end)``. Each segment is checked readable (size and TS sync bytes), so a
    corrupt segment shows as a gap here exactly as it would in an export."""
    check_window(start, end, max_hours=max_hours)
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    seconds = float(segment_seconds or site.edge.segment_seconds)
    window = (end - start).total_seconds()
    out = []
    for camera, matched_by, distance in resolve_cameras(site, place):
        chosen = select(recordings_root, camera.id, start, end, segment_seconds=seconds,
                        want_sizes=False)
        holes = [Span(start=g.start, end=g.end, reason=g.reason) for g in chosen.gaps]
        covered = _complement(start, end, holes)
        recorded = sum((s.end - s.start).total_seconds() for s in covered)
        out.append(CameraCoverage(
            camera_id=camera.id, name=camera.name, location=camera.location,
            matched_by=matched_by, distance_m=None if distance is None else round(distance, 1),
            segments=len(chosen.segments), recorded_seconds=recorded,
            coverage=round(recorded / window, 4), covered=covered, gaps=holes,
        ))
    return out


def _complement(start: datetime, end: datetime, holes: list[Span]) -> list[Span]:
    out = []
    cursor = start
    for hole in holes:
        if hole.start > cursor:
            out.append(Span(start=cursor, end=hole.start))
        cursor = max(cursor, hole.end)
    if cursor < end:
        out.append(Span(start=cursor, end=end))
    return out
