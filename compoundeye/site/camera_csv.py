"""Cameras from a CSV file (a spreadsheet export): one camera per row.

Columns (header row required; order free): ``id``, ``main_url``, ``building``, ``lat`` and
``lon`` are required, the others optional. ``sees_doors`` lists door ids separated by
``;``. ``masks`` holds polygons separated by ``|``, each as points ``x y`` separated by
``;`` (``0 0;1 0;1 0.2;0 0.2``). ``zones`` holds zones separated by ``|``, each
``name=polygon`` or ``name@schedule=polygon`` (``door@night=0.2 0.4;0.8 0.4;0.8 1;0.2 1``).
An empty cell takes the field's default.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from compoundeye.site.credentials import Credentials, resolve_urls
from compoundeye.site.errors import ConfigError, Where, clean_message
from compoundeye.site.models import Camera

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
    "record",
    "sees_doors",
    "masks",
    "zones",
    "detect_mode",
)
"""Columns of a camera CSV file; ``id``, ``main_url``, ``building``, ``lat``, ``lon`` required."""

REQUIRED_COLUMNS = ("id", "main_url", "building", "lat", "lon")
_LOCATION_COLUMNS = frozenset(("building", "floor", "zone", "lat", "lon"))


class _ReportedError(Exception):
    """The row's errors are already listed."""


class CellError(ValueError):
    """A cell that cannot be read; carries its column."""

    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column = column


@dataclass
class CsvCameras:
    """What one CSV file gave: valid cameras with their rows, errors, ids of bad rows."""

    cameras: list[tuple[Where, Camera]] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    invalid_ids: set[str] = field(default_factory=set)


def parse_polygon(text: str) -> list[tuple[float, float]]:
    """``"x y;x y;x y"`` (a comma also separates x from y) to a list of points."""
    points = []
    for pair in text.split(";"):
        parts = pair.replace(",", " ").split()
        if len(parts) != 2:
            raise ValueError(f"point {pair.strip()!r}: expected 'x y'")
        try:
            points.append((float(parts[0]), float(parts[1])))
        except ValueError:
            raise ValueError(f"point {pair.strip()!r}: not numbers") from None
    return points


def parse_zones(text: str) -> list[dict[str, Any]]:
    """``name[@schedule]=polygon|...`` to zone mappings (validated later by the model)."""
    zones = []
    for item in text.split("|"):
        head, sep, polygon = item.partition("=")
        if not sep:
            raise ValueError(f"zone {item.strip()!r}: expected name=polygon or name@schedule=...")
        name, _, schedule = head.strip().partition("@")
        zone: dict[str, Any] = {"name": name.strip(), "polygon": parse_polygon(polygon)}
        if schedule.strip():
            zone["armed_schedule"] = schedule.strip()
        zones.append(zone)
    return zones


def row_to_camera_data(row: dict[str, str]) -> dict[str, Any]:
    """One CSV row (known columns only) to the mapping a :class:`Camera` validates."""
    data: dict[str, Any] = {}
    location: dict[str, Any] = {}
    for key, value in row.items():
        text = value.strip()
        if not text:
            continue
        if key in _LOCATION_COLUMNS:
            location[key] = text
        elif key == "sees_doors":
            data[key] = [d.strip() for d in text.split(";") if d.strip()]
        elif key in ("masks", "zones"):
            try:
                data[key] = (
                    [parse_polygon(p) for p in text.split("|")] if key == "masks"
                    else parse_zones(text)
                )
            except ValueError as exc:
                raise CellError(key, str(exc)) from None
        else:
            data[key] = text
    data["location"] = location
    return data


def load_camera_csv(path: Path, label: str,
                    credentials: Credentials | None = None) -> CsvCameras:
    """Read and validate every row; errors name the file, row (as a spreadsheet numbers
    it: the header is row 1) and column. URL references are resolved with ``credentials``
    (see :mod:`compoundeye.site.credentials`)."""
    out = CsvCameras()
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        out.errors.append(ConfigError(label, f"cannot read camera file {path}: {exc.strerror}"))
        return out
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader, [])]
        except (csv.Error, UnicodeDecodeError) as exc:
            out.errors.append(ConfigError(f"{label} row 1", f"unreadable header: {exc}"))
            return out
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        unknown = [c for c in header if c not in CSV_COLUMNS]
        if missing:
            out.errors.append(ConfigError(f"{label} row 1", f"missing columns: {missing}"))
            return out
        if unknown:
            out.errors.append(ConfigError(
                f"{label} row 1", f"unknown columns {unknown} (known: {list(CSV_COLUMNS)})"))
        try:
            for cells in reader:
                _read_row(out, label, reader.line_num, header, cells, credentials)
        except (csv.Error, UnicodeDecodeError) as exc:
            out.errors.append(ConfigError(f"{label} row {reader.line_num}", f"unreadable: {exc}"))
    return out


def _read_row(out: CsvCameras, label: str, line: int, header: list[str],
              cells: list[str], credentials: Credentials | None) -> None:
    where = Where(f"{label} row {line}", csv=True)
    if not any(cell.strip() for cell in cells):
        return  # a blank spreadsheet row
    if len(cells) > len(header):
        out.errors.append(ConfigError(
            str(where), f"{len(cells)} cells but the header has {len(header)} columns"))
        return
    row = {k: v for k, v in zip(header, cells, strict=False) if k in CSV_COLUMNS}
    try:
        data = row_to_camera_data(row)
        unresolved = resolve_urls(data, where, credentials)
        if unresolved:
            out.errors += unresolved
            raise _ReportedError
        camera = Camera.model_validate(data)
    except _ReportedError:
        pass
    except CellError as exc:
        out.errors.append(ConfigError(where.at(exc.column), str(exc)))
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = [p for p in err["loc"] if p != "location"]
            column = str(loc[0]) if loc else "?"
            deeper = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
            message = clean_message(err)
            out.errors.append(ConfigError(where.at(column), f"{deeper}: {message}"
                                          if deeper else message))
    else:
        out.cameras.append((where, camera))
        return
    camera_id = row.get("id", "").strip()
    if camera_id:
        out.invalid_ids.add(camera_id)
