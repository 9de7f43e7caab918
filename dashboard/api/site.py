"""``GET /api/map``: the compound's plan (configured coordinates) with live statuses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from compoundeye.camera_status import CameraState
from dashboard.cameras import read_door_statuses, read_statuses
from dashboard.deps import AnyRoleDep, StateDep
from dashboard.state import AppState

router = APIRouter(prefix="/api", tags=["map"])


def _plan(state: AppState) -> dict[str, Any]:
    site = state.site
    cameras = read_statuses(state.redis, site)
    doors = read_door_statuses(state.redis, site)
    points = [(c.location.lat, c.location.lon) for c in site.cameras]
    points += [(d.location.lat, d.location.lon) for d in site.doors]
    buildings: dict[str, dict[str, Any]] = {}
    for lat, lon, building in ([(c.lat, c.lon, c.building) for c in cameras]
                               + [(d.location.lat, d.location.lon, d.location.building)
                                  for d in site.doors]):
        box = buildings.setdefault(building, {"name": building, "min_lat": lat, "max_lat": lat,
                                              "min_lon": lon, "max_lon": lon,
                                              "worst": CameraState.ONLINE})
        box["min_lat"], box["max_lat"] = min(box["min_lat"], lat), max(box["max_lat"], lat)
        box["min_lon"], box["max_lon"] = min(box["min_lon"], lon), max(box["max_lon"], lon)
    door_rows = []
    for door in site.doors:
        live = doors.get(door.id, {})
        door_rows.append({
            "id": door.id, "name": door.name or door.id, "building": door.location.building,
            "lat": door.location.lat, "lon": door.location.lon,
            # The listener's hash expires when a controller goes quiet: absent = not heard.
            "status": live.get("state") or live.get("status") or "unknown",
            "last_seen": live.get("last_seen") or live.get("since"),
            "cameras": site.cameras_for_door(door.id),
        })
    bounds = None
    if points:
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        bounds = {"min_lat": min(lats), "max_lat": max(lats),
                  "min_lon": min(lons), "max_lon": max(lons)}
    return {
        "site": site.name,
        "bounds": bounds,
        "buildings": sorted(buildings.values(), key=lambda b: str(b["name"])),
        "cameras": [{"id": c.id, "name": c.name, "building": c.building, "zone": c.zone,
                     "lat": c.lat, "lon": c.lon, "status": c.status, "since": c.since,
                     "fps": c.fps, "reason": c.reason} for c in cameras],
        "doors": door_rows,
    }


@router.get("/map", summary="Plan of the compound: buildings, cameras and doors with status")
async def site_map(state: StateDep, _caller: AnyRoleDep) -> dict[str, Any]:
    return await run_in_threadpool(_plan, state)
