"""``${VAR}`` references in camera URLs, resolved from the environment or a credentials file.

A site file (and a camera CSV file) can then be committed with no password in it::

    main_url: rtsp://admin:${CAM_B12_PASS}@10.2.12.7:554/Streaming/Channels/101

Only ``main_url`` and ``sub_url`` are read for references. A name is letters, digits and
``_`` (not starting with a digit); ``$$`` writes a literal ``$``. A value is inserted as
written, so a password with ``@``, ``:`` or ``/`` must be percent-encoded in it (``%40``).

Values come from the process environment, then from ``CE_CREDENTIALS_FILE``: ``NAME=value``
lines (python-dotenv's format: ``#`` comments, optional quotes), which must be readable
by its owner only (mode 0600 or stricter). Only the processes that connect to cameras
(``compoundeye edge``, ``compoundeye live``) and ``compoundeye check-config`` resolve
references; the others keep the URL as written and never see a password.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from compoundeye.site.errors import ConfigError, Where

CREDENTIALS_FILE_ENV = "CE_CREDENTIALS_FILE"
URL_FIELDS = ("main_url", "sub_url")
_TOKEN = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class CredentialsFileError(ValueError):
    """The credentials file cannot be used (unreadable, or readable by others)."""


class BadReferenceError(ValueError):
    """A malformed ``${...}`` reference."""


class Credentials:
    """Where ``${VAR}`` values come from: the environment first, then the file."""

    def __init__(self, environ: Mapping[str, str], file_values: Mapping[str, str] | None = None,
                 source: Path | None = None) -> None:
        self._environ = environ
        self._file = dict(file_values or {})
        self.source = source

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        """The process environment, plus ``CE_CREDENTIALS_FILE`` when it is set."""
        env = os.environ if environ is None else environ
        name = env.get(CREDENTIALS_FILE_ENV, "")
        if not name:
            return cls(env)
        path = Path(name)
        return cls(env, read_credentials_file(path), path)

    def get(self, name: str) -> str | None:
        """The value of ``name``, or None when neither place sets it."""
        value = self._environ.get(name)
        return value if value is not None else self._file.get(name)

    @property
    def where(self) -> str:
        """Where values were looked for, for error messages."""
        return (f"the environment or {CREDENTIALS_FILE_ENV} ({self.source})" if self.source
                else f"the environment (no {CREDENTIALS_FILE_ENV} set)")


def read_credentials_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines of a file only its owner may read."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise CredentialsFileError(
            f"{CREDENTIALS_FILE_ENV} {path}: cannot read: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise CredentialsFileError(
            f"{CREDENTIALS_FILE_ENV} {path} is open to other users (mode "
            f"{stat.S_IMODE(mode):04o}): chmod 600 it")
    try:
        values = dotenv_values(path, interpolate=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsFileError(f"{CREDENTIALS_FILE_ENV} {path}: cannot read: {exc}") from None
    return {key: value for key, value in values.items() if value is not None}


def references(text: str) -> list[str]:
    """The names ``text`` refers to; raises :class:`BadReferenceError` on a malformed one."""
    names = []
    for match in _TOKEN.finditer(text):
        if match[0] == "$$":
            continue
        name = match[1]
        if name is None:
            raise BadReferenceError("'${' without a closing '}'")
        if not _NAME.fullmatch(name):
            raise BadReferenceError(f"bad reference ${{{name}}}: a name is letters, digits and "
                                  "'_', not starting with a digit")
        names.append(name)
    return names


def substitute(text: str, credentials: Credentials) -> tuple[str, list[str]]:
    """``text`` with every reference replaced, and the names that are not set (left as
    written). Raises :class:`BadReferenceError` on a malformed reference."""
    references(text)  # syntax first
    missing: list[str] = []

    def value(match: re.Match[str]) -> str:
        if match[0] == "$$":
            return "$"
        found = credentials.get(match[1])
        if found is None:
            missing.append(match[1])
            return match[0]
        return found

    return _TOKEN.sub(value, text), missing


def resolve_urls(data: Any, where: Where, credentials: Credentials | None) -> list[ConfigError]:
    """Check (and with ``credentials``, resolve in place) the references in a camera
    mapping's URL fields; one error per malformed reference or unset name, located at the
    field (YAML path or CSV row and column)."""
    errors: list[ConfigError] = []
    if not isinstance(data, dict):
        return errors
    for key in URL_FIELDS:
        text = data.get(key)
        if not isinstance(text, str) or "$" not in text:
            continue
        try:
            if credentials is None:
                references(text)
                continue
            resolved, missing = substitute(text, credentials)
        except BadReferenceError as exc:
            errors.append(ConfigError(where.at(key), str(exc)))
            continue
        for name in dict.fromkeys(missing):
            errors.append(ConfigError(where.at(key),
                                      f"${{{name}}} is not set in {credentials.where}"))
        if not missing:
            data[key] = resolved
    return errors
