"""How every part reads text out of a Redis reply: one decoding policy.

redis-py returns ``bytes`` unless a client was made with ``decode_responses=True``, and
some replies (a script's result, an ``XINFO`` field) may already be ``str`` or ``int``.
The policy: bytes are UTF-8, with undecodable bytes replaced (U+FFFD) rather than raised
on, so a corrupt value shows up as visibly odd text and never stops a worker; anything
else is taken as ``str(value)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def text(value: object) -> str:
    """A reply value as text (see the module's policy)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def text_or_none(value: object) -> str | None:
    """Like :func:`text`, keeping None (a missing hash field or key) as None."""
    return None if value is None else text(value)


def text_map(mapping: Mapping[Any, Any]) -> dict[str, str]:
    """A hash (``HGETALL``) or stream entry's fields with keys and values as text."""
    return {text(key): text(value) for key, value in mapping.items()}
