"""Short-lived, single-use tickets that let a signed-in page open the live engine.

The dashboard checks the caller's role (through ``dashboard.deps``) and signs a ticket;
the engine, a separate process that shares the data directory's key file, checks the
signature, the expiry and that the ticket was not used before. The ticket travels in the
first WebSocket message, never in a URL, so it appears in no access log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from compoundeye.auth.roles import Role
from dashboard.auth.sessions import load_or_create_key

TICKET_SECONDS = 30
LIVE_KEY_FILE = "live.key"
LIVE_ROLES: frozenset[Role] = frozenset({Role.OPERATOR, Role.OPS, Role.ADMIN})
"""Who may watch live video (issue 12: operator, ops, admin)."""


class TicketError(ValueError):
    """A ticket that is forged, malformed, expired, reused or for a role without live."""


@dataclass(frozen=True)
class Ticket:
    """Who a valid ticket speaks for."""

    name: str
    role: Role
    expires: float
    nonce: str
    ip: str | None = None


def live_key(data_dir: Path) -> bytes:
    """The signing key shared by the dashboard and the engine (created 0600 on first use)."""
    return load_or_create_key(data_dir / LIVE_KEY_FILE)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, b"live:" + payload.encode("ascii"), hashlib.sha256).digest())


def issue(key: bytes, name: str, role: Role, now: float, ip: str | None = None) -> str:
    """A ticket for ``name`` acting as ``role``, valid for :data:`TICKET_SECONDS`."""
    if role not in LIVE_ROLES:
        raise TicketError(f"role {role.value} may not watch live video")
    body = {"n": name, "r": role.value, "e": now + TICKET_SECONDS,
            "x": secrets.token_urlsafe(12), "i": ip}
    payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
    return f"{payload}.{_mac(key, payload)}"


class TicketChecker:
    """Checks tickets and remembers used nonces until they expire (single use)."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._used: dict[str, float] = {}

    def check(self, value: str, now: float) -> Ticket:
        if not isinstance(value, str) or len(value) > 1024 or value.count(".") != 1:
            raise TicketError("malformed ticket")
        payload, mac = value.split(".")
        if not hmac.compare_digest(_mac(self._key, payload), mac):
            raise TicketError("bad ticket signature")
        try:
            data = json.loads(_unb64(payload))
            ticket = Ticket(str(data["n"]), Role(data["r"]), float(data["e"]), str(data["x"]),
                            None if data.get("i") is None else str(data["i"]))
        except (ValueError, KeyError, TypeError, UnicodeError):
            raise TicketError("malformed ticket") from None
        if ticket.expires <= now:
            raise TicketError("ticket expired")
        if ticket.role not in LIVE_ROLES:
            raise TicketError(f"role {ticket.role.value} may not watch live video")
        self._used = {n: e for n, e in self._used.items() if e > now}
        if ticket.nonce in self._used:
            raise TicketError("ticket already used")
        self._used[ticket.nonce] = ticket.expires
        return ticket
