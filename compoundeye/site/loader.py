"""Load a site file (YAML plus optional camera CSV files) and report every error by path."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from compoundeye.site.models import Camera, Site

CSV_COLUMNS = (
    "id",
    "name",
    "main_url",
    "sub_url",
    "building",
    "floor",
    "zone",
    "lat",
    "lon",
    "detect_fps",
    "sees_doors",
)
"""Columns of a camera CSV file; ``id``, ``main_url``, ``building``, ``lat``, ``lon`` required."""

_LOCATION_COLUMNS = ("building", "floor", "zone", "lat", "lon")

_YamlLoader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)


@dataclass(frozen=True)
class ConfigError:
    """One problem in a site file, located by YAML path or CSV file and row."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class SiteConfigError(Exception):
    """The site file is invalid; ``errors`` holds every problem found."""

    def __init__(self, source: Path, errors: Sequence[ConfigError]) -> None:
        self.source = source
        self.errors = list(errors)
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(f"{source}: {len(self.errors)} error(s)\n{lines}")


def _path(loc: Iterable[int | str], prefix: str = "") -> str:
    text = prefix
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def _pydantic_errors(exc: ValidationError, prefix: str = "") -> list[ConfigError]:
    errors = []
    for err in exc.errors(include_url=False):
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown key"
        elif err["type"] == "missing":
            message = "required key is missing"
        errors.append(ConfigError(_path(err["loc"], prefix), message))
    return errors


def _csv_row_to_camera(row: dict[str, str | None]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    location: dict[str, Any] = {}
    for key, value in row.items():
        if key is None:
            raise ValueError("row has more cells than the header")
        text = (value or "").strip()
        if key in _LOCATION_COLUMNS:
            if text:
                location[key] = text
        elif key == "sees_doors":
            if text:
                data[key] = [d.strip() for d in text.split(";") if d.strip()]
        elif key in CSV_COLUMNS:
            if text:
                data[key] = text
        else:
            data[key] = text  # an unknown column: the model reports it as an unknown key
    data["location"] = location
    return data


def _load_camera_csv(path: Path, label: str) -> tuple[list[tuple[str, Camera]], list[ConfigError]]:
    cameras: list[tuple[str, Camera]] = []
    errors: list[ConfigError] = []
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        return [], [ConfigError(label, f"cannot read camera file: {exc.strerror}")]
    with handle:
        reader = csv.DictReader(handle)
        missing = {"id", "main_url", "building", "lat", "lon"} - set(reader.fieldnames or [])
        if missing:
            return [], [ConfigError(f"{label} header", f"missing columns: {sorted(missing)}")]
        for row in reader:
            where = f"{label} row {reader.line_num}"
            try:
                data = _csv_row_to_camera(row)
                cameras.append((where, Camera.model_validate(data)))
            except ValidationError as exc:
                for err in exc.errors(include_url=False):
                    column = next((str(p) for p in reversed(err["loc"]) if isinstance(p, str)), "")
                    msg = "unknown column" if err["type"] == "extra_forbidden" else err["msg"]
                    errors.append(ConfigError(f"{where}, column {column}", msg))
            except ValueError as exc:
                errors.append(ConfigError(where, str(exc)))
    return cameras, errors


def _cross_check(site: Site, camera_where: list[str]) -> list[ConfigError]:
    errors: list[ConfigError] = []
    first_seen: dict[str, str] = {}
    for where, camera in zip(camera_where, site.cameras, strict=True):
        if camera.id in first_seen:
            errors.append(
                ConfigError(f"{where}.id", f"duplicate camera id {camera.id!r} "
                            f"(first at {first_seen[camera.id]})")
            )
        else:
            first_seen[camera.id] = where
        for z, zone in enumerate(camera.zones):
            if zone.armed_schedule and zone.armed_schedule not in site.schedules:
                errors.append(ConfigError(f"{where}.zones[{z}].armed_schedule",
                                          f"unknown schedule {zone.armed_schedule!r}"))
        names = [zone.name for zone in camera.zones]
        for name in {n for n in names if names.count(n) > 1}:
            errors.append(ConfigError(f"{where}.zones", f"duplicate zone name {name!r}"))
    door_ids: dict[str, int] = {}
    for d, door in enumerate(site.doors):
        if door.id in door_ids:
            errors.append(ConfigError(f"doors[{d}].id", f"duplicate door id {door.id!r} "
                                      f"(first at doors[{door_ids[door.id]}])"))
        else:
            door_ids[door.id] = d
        for c, camera_id in enumerate(door.cameras):
            if camera_id not in first_seen:
                errors.append(ConfigError(f"doors[{d}].cameras[{c}]",
                                          f"unknown camera {camera_id!r}"))
        if door.schedule and door.schedule not in site.schedules:
            errors.append(
                ConfigError(f"doors[{d}].schedule", f"unknown schedule {door.schedule!r}")
            )
    for where, camera in zip(camera_where, site.cameras, strict=True):
        for k, door_id in enumerate(camera.sees_doors):
            if door_id not in door_ids:
                errors.append(ConfigError(f"{where}.sees_doors[{k}]", f"unknown door {door_id!r}"))
    return errors


def load_site(path: str | Path) -> Site:
    """Read and validate a site file; raise :class:`SiteConfigError` listing every problem."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        error = ConfigError(str(source), f"cannot read: {exc.strerror}")
        raise SiteConfigError(source, [error]) from None
    try:
        document = yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else str(source)
        raise SiteConfigError(source, [ConfigError(where, f"not valid YAML: {exc}")]) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise SiteConfigError(source, [ConfigError("(top level)", "must be a mapping of keys")])

    errors: list[ConfigError] = []
    try:
        site = Site.model_validate(document)
    except ValidationError as exc:
        raise SiteConfigError(source, _pydantic_errors(exc)) from None

    camera_where = [f"cameras[{i}]" for i in range(len(site.cameras))]
    extra: list[Camera] = []
    for f, camera_file in enumerate(site.camera_files):
        csv_path = Path(camera_file.path)
        if not csv_path.is_absolute():
            csv_path = source.parent / csv_path
        loaded, csv_errors = _load_camera_csv(csv_path, f"camera_files[{f}] ({csv_path.name})")
        errors += csv_errors
        extra += [camera for _, camera in loaded]
        camera_where += [where for where, _ in loaded]
    if extra:
        site = site.model_copy(update={"cameras": [*site.cameras, *extra]})
    errors += _cross_check(site, camera_where)
    if errors:
        raise SiteConfigError(source, errors)
    return site
