"""Server-side sessions in a real Redis: created, checked, ended one by one, by token
name and all at once, listed for admins."""

from __future__ import annotations

import time

import redis

from compoundeye.auth.roles import Role
from compoundeye.auth.sessions import SESSION_SECONDS, SessionStore


def test_a_session_lives_until_it_ends_or_expires(redis_client: redis.Redis) -> None:
    store = SessionStore(redis_client)
    cookie, session = store.create("desk-1", Role.OPERATOR, 1000.0, ip="127.0.0.1")
    assert store.get(cookie, 1001.0) == session
    assert store.get(cookie, 1000.0 + SESSION_SECONDS) is None
    assert store.end(cookie) is True
    assert store.get(cookie, 1001.0) is None
    assert store.end(cookie) is False


def test_unknown_or_junk_cookies_are_no_session(redis_client: redis.Redis) -> None:
    store = SessionStore(redis_client)
    for junk in ("", "x", "a" * 5000, "not.a.session"):
        assert store.get(junk, 1.0) is None


def test_ending_by_name_by_id_and_all(redis_client: redis.Redis) -> None:
    store = SessionStore(redis_client)
    now = time.time()
    a1, _ = store.create("a", Role.ADMIN, now)
    a2, _ = store.create("a", Role.ADMIN, now)
    b, sb = store.create("b", Role.OPS, now)
    c, sc = store.create("c", Role.OPS, now + 1)
    listed = [s.name for s in store.list(now)]
    assert listed[0] == "c" and sorted(listed) == ["a", "a", "b", "c"]
    assert "csrf" not in sc.as_dict()
    assert store.end_for_name("a") == 2
    assert store.get(a1, now) is None and store.get(a2, now) is None
    assert store.end_by_id(sb.id, now) is True
    assert store.get(b, now) is None
    assert store.end_all(now) == 1
    assert store.get(c, now) is None
    assert store.list(now) == []
