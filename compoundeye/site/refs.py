"""Cross-references of a site: unique ids, and every name that points somewhere exists."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from compoundeye.site.errors import ConfigError, Where
from compoundeye.site.models import Camera, Door, Site


def check_references(
    cameras: Sequence[tuple[Where, Camera]],
    doors: Sequence[tuple[Where, Door]],
    schedule_names: Collection[str],
    invalid_ids: Collection[str] = (),
) -> list[ConfigError]:
    """Duplicate camera or door ids, unknown cameras, doors and schedules.

    ``invalid_ids`` are ids of items that failed validation (already reported): naming
    them is not reported again as an unknown reference.
    """
    errors: list[ConfigError] = []
    camera_at: dict[str, Where] = {}
    for where, camera in cameras:
        if camera.id in camera_at:
            first = camera_at[camera.id]
            errors.append(ConfigError(
                where.at("id"), f"duplicate camera id {camera.id!r} (first at {first})"))
        else:
            camera_at[camera.id] = where
        names: set[str] = set()
        for z, zone in enumerate(camera.zones):
            if zone.name in names:
                errors.append(ConfigError(where.at(f"zones[{z}].name"),
                                          f"duplicate zone name {zone.name!r}"))
            names.add(zone.name)
            if zone.armed_schedule is not None and zone.armed_schedule not in schedule_names:
                errors.append(ConfigError(where.at(f"zones[{z}].armed_schedule"),
                                          f"unknown schedule {zone.armed_schedule!r}"))
    door_at: dict[str, Where] = {}
    for where, door in doors:
        if door.id in door_at:
            errors.append(ConfigError(
                where.at("id"), f"duplicate door id {door.id!r} (first at {door_at[door.id]})"))
        else:
            door_at[door.id] = where
        for c, camera_id in enumerate(door.cameras):
            if camera_id not in camera_at and camera_id not in invalid_ids:
                errors.append(ConfigError(where.at(f"cameras[{c}]"),
                                          f"unknown camera {camera_id!r}"))
        if door.schedule is not None and door.schedule not in schedule_names:
            errors.append(ConfigError(where.at("schedule"), f"unknown schedule {door.schedule!r}"))
    for where, camera in cameras:
        for k, door_id in enumerate(camera.sees_doors):
            if door_id not in door_at and door_id not in invalid_ids:
                errors.append(ConfigError(where.at(f"sees_doors[{k}]"),
                                          f"unknown door {door_id!r}"))
    return errors


def site_problems(site: Site) -> list[ConfigError]:
    """The cross-reference errors of a site built in code (``load_site`` checks its own)."""
    return check_references(
        [(Where(f"cameras[{i}]"), c) for i, c in enumerate(site.cameras)],
        [(Where(f"doors[{i}]"), d) for i, d in enumerate(site.doors)],
        site.schedules.keys(),
    )
