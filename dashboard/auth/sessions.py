"""Signed session cookies (HMAC-SHA256) with a key kept in the data directory.

The cookie carries the token's name, role, expiry and a CSRF secret; the same CSRF secret
is given to the page in a readable cookie and must come back in ``X-CSRF-Token`` on
cookie-authenticated writes (double submit, checked against the signed value).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from compoundeye.auth.roles import Role

SESSION_COOKIE = "ce_session"
CSRF_COOKIE = "ce_csrf"
CSRF_HEADER = "X-CSRF-Token"
SESSION_SECONDS = 12 * 3600
"""A night shift and some margin."""


def load_or_create_key(path: Path) -> bytes:
    """The signing key at ``path``, created (0600) on first use."""
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


@dataclass(frozen=True)
class Session:
    """What a valid session cookie says."""

    name: str
    role: Role
    expires: int
    csrf: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Issues and checks session cookie values."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, name: str, role: Role, now: float) -> tuple[str, Session]:
        session = Session(name, role, int(now) + SESSION_SECONDS, secrets.token_urlsafe(24))
        body = json.dumps({"n": name, "r": role.value, "e": session.expires, "c": session.csrf},
                          separators=(",", ":"))
        payload = _b64(body.encode("utf-8"))
        return f"{payload}.{self._mac(payload)}", session

    def check(self, value: str, now: float) -> Session | None:
        """The session in a cookie value, or None when forged, malformed or expired."""
        if not value or len(value) > 1024 or value.count(".") != 1:
            return None
        payload, mac = value.split(".")
        try:
            if not hmac.compare_digest(self._mac(payload), mac):
                return None
            data = json.loads(_unb64(payload))
            session = Session(str(data["n"]), Role(data["r"]), int(data["e"]), str(data["c"]))
        except (ValueError, KeyError, TypeError, UnicodeError):
            return None
        if session.expires <= now:
            return None
        return session
