"""The Redis Streams consumer group the alerting processes share on ``ce:events``.

Each entry is delivered to one consumer of the group and stays pending until acknowledged.
Entries pending with a consumer that died are claimed by a live one (``XAUTOCLAIM``) once
idle long enough; every delivery is counted, so an entry that keeps failing can be taken
out as poison instead of going round for ever.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from compoundeye.redis_text import text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    """One stream entry as delivered to this consumer."""

    id: str
    fields: dict[bytes, bytes]
    deliveries: int = 1


class GroupConsumer:
    """Reads, claims and acknowledges entries of one stream for one named consumer."""

    def __init__(self, client: redis.Redis, stream: str, group: str, consumer: str,
                 *, count: int = 1000) -> None:
        self.client = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.count = count
        self._claim_cursor = "0-0"

    def ensure_group(self) -> None:
        """Create the group (and the stream) if missing; it starts from the stream's start."""
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
            log.info("created consumer group %s on %s", self.group, self.stream)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _entries(self, raw: Any) -> list[Entry]:
        out: list[Entry] = []
        for _stream, items in raw or []:
            for entry_id, fields in items:
                out.append(Entry(text(entry_id), dict(fields or {})))
        return out

    def read_new(self, block_ms: int) -> list[Entry]:
        """New entries for this consumer, waiting up to ``block_ms`` for the first."""
        raw = self.client.xreadgroup(self.group, self.consumer, {self.stream: ">"},
                                     count=self.count, block=max(1, block_ms))
        return self._entries(raw)

    def read_own_pending(self) -> list[Entry]:
        """Entries delivered to this consumer name before and never acknowledged."""
        raw = self.client.xreadgroup(self.group, self.consumer, {self.stream: "0"},
                                     count=self.count)
        entries = [e for e in self._entries(raw) if e.fields]
        return self._with_deliveries(entries)

    def claim_stale(self, min_idle_ms: int) -> tuple[list[Entry], list[str]]:
        """Claim entries idle for ``min_idle_ms`` from any consumer (dead ones included).

        Returns the claimed entries with their delivery counts, and the ids of entries that
        were pending but no longer exist in the stream (trimmed), which need only an ack.
        """
        result = self.client.xautoclaim(self.stream, self.group, self.consumer,
                                        min_idle_time=min_idle_ms,
                                        start_id=self._claim_cursor, count=self.count)
        cursor, items = result[0], result[1]
        deleted = [text(i) for i in (result[2] if len(result) > 2 else [])]
        self._claim_cursor = text(cursor)
        entries = [Entry(text(i), dict(f)) for i, f in items if f]
        deleted += [text(i) for i, f in items if not f]
        return self._with_deliveries(entries), deleted

    def _with_deliveries(self, entries: Sequence[Entry]) -> list[Entry]:
        if not entries:
            return []
        pending = self.client.xpending_range(
            self.stream, self.group, min=entries[0].id, max=entries[-1].id,
            count=len(entries) * 2 + 10, consumername=self.consumer)
        counts = {text(p["message_id"]): int(p["times_delivered"]) for p in pending}
        return [Entry(e.id, e.fields, counts.get(e.id, 1)) for e in entries]

    def ack(self, ids: Sequence[str]) -> int:
        """Acknowledge entries (in chunks); returns how many were pending."""
        done = 0
        for start in range(0, len(ids), 5000):
            done += int(self.client.xack(self.stream, self.group, *ids[start:start + 5000]))
        return done

    def forget_idle_consumers(self, idle_ms: int) -> list[str]:
        """Delete other consumers of the group idle that long with nothing pending.

        Every restarted process joins under a new name; the names of dead ones would
        otherwise pile up in the group for ever.
        """
        gone: list[str] = []
        for info in self.client.xinfo_consumers(self.stream, self.group):
            name = text(info["name"])
            if name != self.consumer and int(info["pending"]) == 0 \
                    and int(info["idle"]) > idle_ms:
                self.client.xgroup_delconsumer(self.stream, self.group, name)
                gone.append(name)
        return gone

    def pending_count(self) -> int:
        """Entries pending in the whole group."""
        info = self.client.xpending(self.stream, self.group)
        return int(info["pending"])
