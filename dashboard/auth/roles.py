"""Roles and the principal a request acts as."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """The four roles of DESIGN.md's HTTP API table."""

    OPERATOR = "operator"
    INVESTIGATOR = "investigator"
    OPS = "ops"
    ADMIN = "admin"


ALL_ROLES: frozenset[Role] = frozenset(Role)


@dataclass(frozen=True)
class Principal:
    """The caller: a token's name and role, and how it authenticated."""

    name: str
    role: Role
    via: str  # "bearer" or "session"
    csrf: str = ""
