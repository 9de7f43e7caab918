"""Which edge worker owns which camera: a stable hash of the camera id, modulo N.

The hash is BLAKE2b of the id, so the split depends on nothing but the id and N: the same
worker takes the same cameras back after a restart, on any host, in any Python process
(unlike ``hash()``, which is salted per process).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Protocol, TypeVar


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


T = TypeVar("T", bound=_HasId)


def shard_of(camera_id: str, count: int) -> int:
    """The shard (0..count-1) a camera id belongs to."""
    if count < 1:
        raise ValueError(f"shard count must be at least 1, got {count}")
    digest = hashlib.blake2b(camera_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % count


def select_shard(items: Iterable[T], index: int, count: int) -> list[T]:
    """The items (cameras) whose id falls in shard ``index`` of ``count``, in input order."""
    if not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: need 0 <= I < N")
    return [item for item in items if shard_of(item.id, count) == index]


def split(ids: Sequence[str], count: int) -> list[list[str]]:
    """Every shard's ids, for capacity notes and tests."""
    shards: list[list[str]] = [[] for _ in range(count)]
    for camera_id in ids:
        shards[shard_of(camera_id, count)].append(camera_id)
    return shards
