"""Load a site file (YAML plus optional camera CSV files) and report every error by path.

Every camera and door is validated on its own, so one bad camera does not hide the
others' errors, and the cross-references (duplicate ids, doors naming unknown cameras,
unknown schedules) are checked over whatever was valid. Nothing is validated twice: the
2,400-camera reference site loads in a fraction of a second.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from compoundeye.site.camera_csv import CSV_COLUMNS, load_camera_csv
from compoundeye.site.credentials import Credentials, resolve_urls
from compoundeye.site.errors import ConfigError, SiteConfigError, Where, pydantic_errors
from compoundeye.site.models import Camera, CameraFile, Door, Site
from compoundeye.site.refs import check_references

__all__ = ["CSV_COLUMNS", "ConfigError", "SiteConfigError", "load_site", "site_from_mapping"]

_BaseLoader: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(
    yaml, "CSafeLoader", yaml.SafeLoader
)
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
# YAML 1.1 reads 22:00 as the base-60 integer 1320; a schedule means a time of day.
_INT_RE = r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"
_FLOAT_RE = (
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_CAMERA_FILES = TypeAdapter(list[CameraFile])


class _SiteYamlLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe loader: no base-60 numbers, and a key repeated in one mapping is an error."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Hashable, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.value in seen:
                    raise yaml.constructor.ConstructorError(
                        "while reading a mapping", node.start_mark,
                        f"duplicate key {key_node.value!r}", key_node.start_mark)
                seen.add(key_node.value)
        result: dict[Hashable, Any] = super().construct_mapping(node, deep=deep)
        return result


def _install_resolvers() -> None:
    resolvers = {
        first: [(tag, rx) for tag, rx in entries if tag not in (_INT, _FLOAT)]
        for first, entries in _BaseLoader.yaml_implicit_resolvers.items()
    }
    _SiteYamlLoader.yaml_implicit_resolvers = resolvers
    _SiteYamlLoader.add_implicit_resolver(_INT, re.compile(_INT_RE), list("-+0123456789"))
    _SiteYamlLoader.add_implicit_resolver(_FLOAT, re.compile(_FLOAT_RE), list("-+0123456789."))


_install_resolvers()


def parse_yaml(text: str, source: Path) -> dict[str, Any]:
    """The YAML document as a mapping; a syntax error names its line and column."""
    try:
        document = yaml.load(text, Loader=_SiteYamlLoader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else str(source)
        problem = getattr(exc, "problem", None) or str(exc)
        raise SiteConfigError(source, [ConfigError(where, f"not valid YAML: {problem}")]) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise SiteConfigError(source, [ConfigError("(top level)", "must be a mapping of keys")])
    return document


def load_site(path: str | Path, credentials: Credentials | None = None) -> Site:
    """Read and validate a site file; raise :class:`SiteConfigError` listing every problem.

    With ``credentials``, the ``${VAR}`` references of camera URLs are resolved (an unset
    one is an error naming its YAML path or CSV row); without, URLs stay as written.
    """
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        error = ConfigError(str(source), f"cannot read: {reason}")
        raise SiteConfigError(source, [error]) from None
    document = parse_yaml(text, source)
    try:
        return site_from_mapping(document, base_dir=source.parent, source=source,
                                 credentials=credentials)
    except SiteConfigError as exc:
        raise SiteConfigError(source, _with_lines(text, exc.errors)) from None


_LAST_PART = re.compile(r"(\.[^.\[]+|\[\d+\])$")


def _node_lines(node: yaml.Node, path: str, lines: dict[str, int]) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                child = f"{path}.{key.value}" if path else str(key.value)
                lines[child] = key.start_mark.line + 1
                _node_lines(value, child, lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _node_lines(item, f"{path}[{i}]", lines)


def _with_lines(text: str, errors: list[ConfigError]) -> list[ConfigError]:
    """The errors with the YAML line of their path (a missing key: its parent's line)."""
    lines: dict[str, int] = {}
    root = yaml.compose(text, Loader=_SiteYamlLoader)
    if root is not None:
        _node_lines(root, "", lines)
    out = []
    for error in errors:
        path = error.where
        while path and path not in lines:
            shorter = _LAST_PART.sub("", path)
            path = "" if shorter == path else shorter
        line = lines.get(path) if path else None
        out.append(dataclasses.replace(error, line=line) if line is not None else error)
    return out


def _items(document: Mapping[str, Any], key: str, errors: list[ConfigError]) -> list[Any]:
    value = document.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(ConfigError(key, "must be a list"))
        return []
    return value


def _note_id(ids: set[str], raw: Any) -> None:
    value = raw.get("id") if isinstance(raw, dict) else None
    if isinstance(value, str):
        ids.add(value)


def site_from_mapping(document: Mapping[str, Any], *, base_dir: Path,
                      source: Path | None = None,
                      credentials: Credentials | None = None) -> Site:
    """Validate a parsed site document; CSV paths are relative to ``base_dir``; camera
    URLs' references resolved with ``credentials`` when given (see :func:`load_site`)."""
    source = source or base_dir / "(site)"
    errors: list[ConfigError] = []
    rest = {k: v for k, v in document.items() if k not in ("cameras", "doors")}
    base: Site | None
    try:
        base = Site.model_validate(rest)
    except ValidationError as exc:
        base = None
        errors += pydantic_errors(exc, model=Site)

    cameras: list[tuple[Where, Camera]] = []
    known_bad_ids: set[str] = set()  # invalid items, so their references are not reported too
    for i, raw in enumerate(_items(document, "cameras", errors)):
        where = Where(f"cameras[{i}]")
        raw = dict(raw) if isinstance(raw, dict) else raw  # resolved in a copy
        unresolved = resolve_urls(raw, where, credentials)
        if unresolved:
            errors += unresolved
            _note_id(known_bad_ids, raw)
            continue
        try:
            cameras.append((where, Camera.model_validate(raw)))
        except ValidationError as exc:
            errors += pydantic_errors(exc, f"cameras[{i}]", Camera)
            _note_id(known_bad_ids, raw)
    doors: list[tuple[Where, Door]] = []
    for i, raw in enumerate(_items(document, "doors", errors)):
        try:
            doors.append((Where(f"doors[{i}]"), Door.model_validate(raw)))
        except ValidationError as exc:
            errors += pydantic_errors(exc, f"doors[{i}]", Door)
            _note_id(known_bad_ids, raw)

    for f, camera_file in enumerate(_camera_files(base, document)):
        csv_path = Path(camera_file.path)
        if not csv_path.is_absolute():
            csv_path = base_dir / csv_path
        loaded = load_camera_csv(csv_path, f"camera_files[{f}] ({csv_path.name})",
                                 credentials)
        errors += loaded.errors
        cameras += loaded.cameras
        known_bad_ids |= loaded.invalid_ids

    raw_schedules = document.get("schedules")
    schedule_names = set(raw_schedules) if isinstance(raw_schedules, dict) else set()
    errors += check_references(cameras, doors, schedule_names, known_bad_ids)
    if errors or base is None:
        raise SiteConfigError(source, errors)
    return base.model_copy(update={
        "cameras": [camera for _, camera in cameras],
        "doors": [door for _, door in doors],
    })


def _camera_files(base: Site | None, document: Mapping[str, Any]) -> list[CameraFile]:
    if base is not None:
        return base.camera_files
    try:  # the site has errors elsewhere: still read the CSV files to report theirs
        return _CAMERA_FILES.validate_python(document.get("camera_files") or [])
    except ValidationError:
        return []
