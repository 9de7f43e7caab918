"""Server-side sign-in sessions in Redis, so ending one takes effect at once.

The cookie holds only a random secret; Redis holds the session under the secret's SHA-256
(``ce:session:<hash>``, expiring with the session), indexed by expiry (``ce:sessions``) and
by token name (``ce:sessions:of:<name>``). Sign-out deletes the session, so a cookie copied
before it is worthless afterwards; ``compoundeye token revoke NAME`` ends every session of
that token, and an admin can list sessions and end one or all of them. Sessions are kept in
the kernel because both the dashboard and the command line end them.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

import redis

from compoundeye import names
from compoundeye.auth.roles import Role
from compoundeye.redis_text import text, text_map

SESSION_SECONDS = 12 * 3600
"""A night shift and some margin."""
MAX_COOKIE_CHARS = 128
PUBLIC_ID_CHARS = 16


def _hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode("ascii", "replace")).hexdigest()


@dataclass(frozen=True)
class Session:
    """One signed-in session (never the cookie itself: ``id`` is a public handle)."""

    id: str
    name: str
    role: Role
    csrf: str
    created: float
    expires: float
    ip: str
    user_agent: str

    def as_dict(self) -> dict[str, Any]:
        """The fields an admin sees (no CSRF secret)."""
        return {"id": self.id, "name": self.name, "role": self.role.value,
                "created": self.created, "expires": self.expires, "ip": self.ip,
                "user_agent": self.user_agent}


def _session(digest: str, fields: dict[str, str]) -> Session | None:
    try:
        return Session(digest[:PUBLIC_ID_CHARS], fields["name"], Role(fields["role"]),
                       fields["csrf"], float(fields["created"]), float(fields["expires"]),
                       fields.get("ip", ""), fields.get("user_agent", ""))
    except (KeyError, ValueError):
        return None


class SessionStore:
    """Creates, checks, lists and ends sessions (raises on Redis errors: an unreachable
    store must not mean "signed in")."""

    def __init__(self, client: redis.Redis, ttl_seconds: int = SESSION_SECONDS) -> None:
        self._redis = client
        self.ttl_seconds = ttl_seconds

    def create(self, name: str, role: Role, now: float, *, ip: str = "",
               user_agent: str = "") -> tuple[str, Session]:
        """A new session; returns the cookie value (shown to the browser only)."""
        cookie = secrets.token_urlsafe(32)
        digest = _hash(cookie)
        session = Session(digest[:PUBLIC_ID_CHARS], name, role, secrets.token_urlsafe(24), now,
                          now + self.ttl_seconds, ip[:64], user_agent[:200])
        pipe = self._redis.pipeline(transaction=True)
        pipe.hset(names.session_key(digest), mapping={
            "name": name, "role": role.value, "csrf": session.csrf, "created": repr(now),
            "expires": repr(session.expires), "ip": session.ip,
            "user_agent": session.user_agent})
        pipe.expire(names.session_key(digest), self.ttl_seconds)
        pipe.zadd(names.SESSIONS_INDEX, {digest: session.expires})
        pipe.sadd(names.sessions_of_key(name), digest)
        pipe.expire(names.sessions_of_key(name), self.ttl_seconds)
        pipe.execute()
        return cookie, session

    def get(self, cookie: str, now: float) -> Session | None:
        """The live session of a cookie value, or None (unknown, ended or expired)."""
        if not cookie or len(cookie) > MAX_COOKIE_CHARS:
            return None
        digest = _hash(cookie)
        session = _session(digest, text_map(self._redis.hgetall(names.session_key(digest))))
        if session is None or session.expires <= now:
            return None
        return session

    def end(self, cookie: str) -> bool:
        """End the session of a cookie value (sign-out); True if there was one."""
        if not cookie or len(cookie) > MAX_COOKIE_CHARS:
            return False
        return self._end_digests([_hash(cookie)]) > 0

    def _end_digests(self, digests: list[str]) -> int:
        if not digests:
            return 0
        read = self._redis.pipeline(transaction=False)
        for digest in digests:
            read.hget(names.session_key(digest), "name")
        owners = read.execute()
        delete = self._redis.pipeline(transaction=True)
        for digest in digests:
            delete.delete(names.session_key(digest))
        ended = sum(int(n) for n in delete.execute())
        tidy = self._redis.pipeline(transaction=False)
        tidy.zrem(names.SESSIONS_INDEX, *digests)
        for digest, owner in zip(digests, owners, strict=True):
            if owner:
                tidy.srem(names.sessions_of_key(text(owner)), digest)
        tidy.execute()
        return ended

    def end_for_name(self, name: str) -> int:
        """End every session of one token name (``token revoke``); how many ended."""
        members = self._redis.smembers(names.sessions_of_key(name))
        digests = sorted(text(m) for m in members)
        ended = self._end_digests(digests)
        self._redis.delete(names.sessions_of_key(name))
        return ended

    def _live_digests(self, now: float) -> list[str]:
        self._redis.zremrangebyscore(names.SESSIONS_INDEX, "-inf", now)
        raw = self._redis.zrangebyscore(names.SESSIONS_INDEX, now, "+inf")
        return [text(m) for m in raw]

    def end_all(self, now: float) -> int:
        """End every session (an admin's "sign everyone out"); how many ended."""
        return self._end_digests(self._live_digests(now))

    def end_by_id(self, public_id: str, now: float) -> bool:
        """End the session with this public id (from :meth:`list`)."""
        digests = [d for d in self._live_digests(now) if d[:PUBLIC_ID_CHARS] == public_id]
        return self._end_digests(digests) > 0

    def list(self, now: float) -> list[Session]:
        """Every live session, newest first."""
        digests = self._live_digests(now)
        pipe = self._redis.pipeline(transaction=False)
        for digest in digests:
            pipe.hgetall(names.session_key(digest))
        found = [_session(d, text_map(fields)) for d, fields in zip(digests, pipe.execute(),
                                                                    strict=True)]
        live = [s for s in found if s is not None and s.expires > now]
        return sorted(live, key=lambda s: s.created, reverse=True)

