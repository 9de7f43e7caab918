"""Session cookies: signed, expiring, tamper-evident."""

from __future__ import annotations

import stat
from pathlib import Path

from compoundeye.auth.roles import Role
from dashboard.auth.sessions import SESSION_SECONDS, SessionSigner, load_or_create_key


def test_key_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "session.key"
    key = load_or_create_key(path)
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key


def test_issue_and_check_round_trip() -> None:
    signer = SessionSigner(b"k" * 32)
    value, session = signer.issue("desk-1", Role.OPERATOR, now=1000.0)
    assert signer.check(value, now=1001.0) == session
    assert signer.check(value, now=1000.0 + SESSION_SECONDS) is None


def test_forged_or_damaged_cookies_are_refused() -> None:
    signer = SessionSigner(b"k" * 32)
    value, _ = signer.issue("ops-1", Role.OPS, now=1000.0)
    payload, mac = value.split(".")
    other = SessionSigner(b"j" * 32)
    assert other.check(value, now=1001.0) is None
    assert signer.check(payload + "." + mac[:-2] + "AA", now=1001.0) is None
    forged_payload, _ = signer.issue("x", Role.ADMIN, now=1000.0)[0].split(".")
    assert signer.check(forged_payload + "." + mac, now=1001.0) is None
    for junk in ["", ".", "a.b.c", "%%%.%%%", "x" * 5000]:
        assert signer.check(junk, now=1001.0) is None
