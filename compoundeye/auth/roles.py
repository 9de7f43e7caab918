"""The roles of DESIGN.md's HTTP API table."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """The four roles of DESIGN.md's HTTP API table."""

    OPERATOR = "operator"
    INVESTIGATOR = "investigator"
    OPS = "ops"
    ADMIN = "admin"


ALL_ROLES: frozenset[Role] = frozenset(Role)
