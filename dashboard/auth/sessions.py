"""The session cookies: an opaque session secret (the session itself is in Redis,
:mod:`compoundeye.auth.sessions`) and a readable CSRF cookie.

The CSRF secret is stored with the session; the page reads it from ``ce_csrf`` and sends it
back in ``X-CSRF-Token`` on cookie-authenticated writes (or in the ``csrf`` form field of
the sign-out form), where it is checked against the stored value.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from compoundeye.auth.sessions import SESSION_SECONDS

SESSION_COOKIE = "ce_session"
CSRF_COOKIE = "ce_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "CSRF_HEADER", "SESSION_COOKIE", "SESSION_SECONDS",
           "load_or_create_key"]


def load_or_create_key(path: Path) -> bytes:
    """A signing key kept at ``path``, created (0600) on first use (the live engine's
    tickets use one; sessions need none: they live in Redis)."""
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
