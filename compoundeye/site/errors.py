"""Errors of a site file, each located by its YAML path or CSV row and column."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from compoundeye.site.models import ID_PATTERN

_FIRST_PART = re.compile(r"^([^.\[]+)(.*)$")


@dataclass(frozen=True)
class ConfigError:
    """One problem in a site file, located by YAML path or CSV file and row."""

    where: str
    message: str
    line: int | None = None
    """Line of the YAML file the path points at (or its nearest enclosing key), if known."""

    def __str__(self) -> str:
        suffix = f" (line {self.line})" if self.line is not None else ""
        return f"{self.where}: {self.message}{suffix}"


class SiteConfigError(Exception):
    """The site file is invalid; ``errors`` holds every problem found."""

    def __init__(self, source: Path, errors: Sequence[ConfigError]) -> None:
        self.source = source
        self.errors = list(errors)
        lines = "\n".join(f"  {e}" for e in self.errors)
        super().__init__(f"{source}: {len(self.errors)} error(s)\n{lines}")


@dataclass(frozen=True)
class Where:
    """Where an item came from: a YAML path (``cameras[3]``) or a CSV row."""

    prefix: str
    csv: bool = False

    def at(self, sub: str) -> str:
        """The location of a field of the item: ``cameras[3].zones[0].name`` or
        ``camera_files[0] (cameras.csv) row 5, column zones [0].name``."""
        if not self.csv:
            return f"{self.prefix}{sub}" if sub.startswith("[") else f"{self.prefix}.{sub}"
        match = _FIRST_PART.match(sub)
        column, rest = (match[1], match[2]) if match else (sub, "")
        return f"{self.prefix}, column {column}" + (f" {rest}" if rest else "")

    def __str__(self) -> str:
        return self.prefix


def yaml_path(loc: Iterable[int | str], prefix: str = "") -> str:
    """A pydantic error location as a YAML path: ``doors[2].location.lat``."""
    text = prefix
    for part in loc:
        if part == "[key]":
            continue  # pydantic's marker for a mapping key: the path already ends in the key
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


def clean_message(err: ErrorDetails, model: type[BaseModel] | None = None) -> str:
    """A readable message for one pydantic error (with why a missing key is required)."""
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        reason = _field_reason(model, err["loc"]) if model else None
        return f"required key is missing ({reason})" if reason else "required key is missing"
    if err["type"] == "string_pattern_mismatch" and err.get("ctx", {}).get("pattern") == ID_PATTERN:
        return (f"invalid id {err['input']!r}: up to 64 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit")
    message = err["msg"]
    for noise in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(noise)
    return message


def pydantic_errors(
    exc: ValidationError, prefix: str = "", model: type[BaseModel] | None = None
) -> list[ConfigError]:
    """Every error of a validation, each with its YAML path under ``prefix``."""
    return [
        ConfigError(yaml_path(err["loc"], prefix), clean_message(err, model))
        for err in exc.errors(include_url=False)
    ]


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside an annotation such as ``list[Zone] | None``."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _field_reason(model: type[BaseModel] | None, loc: Sequence[int | str]) -> str | None:
    """The description of the field a location points at, when it says why it's required."""
    current = model
    description: str | None = None
    dict_key_next = False
    for part in loc:
        if isinstance(part, int) or current is None or dict_key_next:
            dict_key_next = False
            continue
        info = current.model_fields.get(part)
        if info is None:
            return None
        description = info.description
        current = _model_in(info.annotation)
        dict_key_next = getattr(info.annotation, "__origin__", None) is dict
    if description and description.startswith("required: "):
        return description.removeprefix("required: ")
    return None
