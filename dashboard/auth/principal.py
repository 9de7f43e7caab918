"""The principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass

from compoundeye.auth.roles import Role


@dataclass(frozen=True)
class Principal:
    """The caller: a token's name and role, and how it authenticated."""

    name: str
    role: Role
    via: str  # "bearer" or "session"
    csrf: str = ""
