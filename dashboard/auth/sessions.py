"""The session cookies: an opaque session secret (the session itself is in Redis,
:mod:`compoundeye.auth.sessions`) and a readable CSRF cookie.

The CSRF secret is stored with the session; the page reads it from ``ce_csrf`` and sends it
back in ``X-CSRF-Token`` on cookie-authenticated writes (or in the ``csrf`` form field of
the sign-out form), where it is checked against the stored value.
"""

from __future__ import annotations

from compoundeye.auth.sessions import SESSION_SECONDS

SESSION_COOKIE = "ce_session"
CSRF_COOKIE = "ce_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf"

__all__ = ["CSRF_COOKIE", "CSRF_FIELD", "CSRF_HEADER", "SESSION_COOKIE", "SESSION_SECONDS"]
