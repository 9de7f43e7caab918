"""Live tickets: signed, short-lived, single use, and only for the roles that watch live."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from compoundeye.auth.roles import Role
from dashboard.streaming.tickets import (
    TICKET_SECONDS,
    TicketChecker,
    TicketError,
    issue,
    live_key,
)

KEY = b"k" * 32


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.OPS, Role.ADMIN])
def test_a_ticket_opens_once(role: Role) -> None:
    checker = TicketChecker(KEY)
    value = issue(KEY, "desk-1", role, 1000.0, "10.0.0.9")
    ticket = checker.check(value, 1001.0)
    assert (ticket.name, ticket.role, ticket.ip) == ("desk-1", role, "10.0.0.9")
    with pytest.raises(TicketError, match="already used"):
        checker.check(value, 1002.0)


def test_investigators_get_no_live_ticket() -> None:
    with pytest.raises(TicketError, match="may not watch live"):
        issue(KEY, "police-1", Role.INVESTIGATOR, 1000.0)


def test_expired_forged_and_malformed_tickets_are_refused() -> None:
    checker = TicketChecker(KEY)
    value = issue(KEY, "desk-1", Role.OPERATOR, 1000.0)
    with pytest.raises(TicketError, match="expired"):
        checker.check(value, 1000.0 + TICKET_SECONDS + 1)
    with pytest.raises(TicketError, match="signature"):
        TicketChecker(b"x" * 32).check(value, 1001.0)
    payload, mac = value.split(".")
    with pytest.raises(TicketError, match="signature"):
        checker.check(payload[:-2] + "AA." + mac, 1001.0)
    for bad in ("", "no-dot", "a.b.c", "x" * 2000):
        with pytest.raises(TicketError):
            checker.check(bad, 1001.0)


def test_the_key_file_is_private(tmp_path: Path) -> None:
    key = live_key(tmp_path)
    assert key == live_key(tmp_path) and len(key) >= 32
    assert stat.S_IMODE((tmp_path / "live.key").stat().st_mode) == 0o600
