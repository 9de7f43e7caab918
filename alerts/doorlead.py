"""Door rules in exactly one alerting process at a time.

The door rules are state machines (a door opened, then closed; a grant shortly before an
opening; denials piling up). With several alerting processes sharing ``ce:events``, each
would see only some events of a door and draw wrong conclusions (a door "held open"
because another process got the ``door.closed``). So the stateful door events are
evaluated from a second consumer group, :data:`names.DOOR_RULES_GROUP`, read only by the
process holding a short Redis lease; the main group acknowledges them without evaluating.
When the leader dies its lease expires, another process takes it, claims the entries the
old leader left pending, and carries on (its door state starts empty, as after a restart).
"""

from __future__ import annotations

import logging

import redis

from alerts.consumer import Entry, GroupConsumer
from compoundeye import names

log = logging.getLogger(__name__)

LEASE_SECONDS = 10.0
DOOR_KIND_MARK = b"door."

_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class DoorLeader:
    """Holds (or waits for) the door-rules lease and reads the door-rules group."""

    def __init__(self, client: redis.Redis, consumer: str, *, count: int = 1000,
                 lease_seconds: float = LEASE_SECONDS) -> None:
        self.client = client
        self.name = consumer
        self.lease_ms = int(lease_seconds * 1000)
        self.group = GroupConsumer(client, names.EVENTS_STREAM, names.DOOR_RULES_GROUP,
                                   consumer, count=count)
        self._extend = client.register_script(_EXTEND)
        self._release = client.register_script(_RELEASE)
        self.leading = False

    def refresh(self) -> bool:
        """Take the lease if free, or extend our own; True while we lead."""
        # Extending also covers a restart under the same consumer name: the lease of the
        # dead process is ours again at once.
        taken = bool(self._extend(keys=[names.DOOR_RULES_LEASE],
                                  args=[self.name, self.lease_ms]))
        if not taken:
            taken = bool(self.client.set(names.DOOR_RULES_LEASE, self.name, nx=True,
                                         px=self.lease_ms))
        if taken and not self.leading:
            log.info("%s now runs the door rules", self.name)
            self.group.ensure_group()
        elif self.leading and not taken:
            log.warning("%s lost the door-rules lease", self.name)
        self.leading = taken
        return taken

    def take_over(self) -> list[Entry]:
        """Entries to evaluate on becoming leader: our own and the old leader's pending."""
        own = self.group.read_own_pending()
        # The old leader no longer holds the lease: its pending entries are ours now.
        claimed, deleted = self.group.claim_stale(min_idle_ms=0)
        if deleted:
            self.group.ack(deleted)
        seen = {e.id for e in own}
        return [*own, *[e for e in claimed if e.id not in seen]]

    def read(self) -> list[Entry]:
        """New entries of the door-rules group (waiting at most a millisecond)."""
        return self.group.read_new(block_ms=1)

    def release(self) -> None:
        """Give the lease up at a clean stop, so another process takes over at once."""
        if self.leading:
            self._release(keys=[names.DOOR_RULES_LEASE], args=[self.name])
            self.leading = False


def is_door_entry(entry: Entry) -> bool:
    """Cheap test (no JSON parse) whether an entry may be a door event."""
    raw = entry.fields.get(names.EVENT_FIELD.encode(), b"")
    return DOOR_KIND_MARK in raw
