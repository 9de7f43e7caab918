"""Door controller liveness: which controllers went quiet, and which came back."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass
class _Door:
    last_seen: datetime
    online: bool
    heard: bool


class Liveness:
    """Tracks the last message time of each door controller (no I/O, caller's clock).

    A controller is offline once nothing was heard from it for ``timeout``; a configured
    door never heard from since ``start`` counts from ``start``.
    """

    def __init__(self, doors: list[str], timeout: timedelta, start: datetime) -> None:
        self.timeout = timeout
        self._doors = {d: _Door(start, True, False) for d in doors}

    def seed(self, door_id: str, last_seen: datetime) -> None:
        """Remember a time the controller was last heard (e.g. from Redis after a restart)."""
        door = self._doors.setdefault(door_id, _Door(last_seen, True, True))
        if last_seen > door.last_seen or not door.heard:
            door.last_seen, door.heard = last_seen, True

    def seen(self, door_id: str, at: datetime) -> bool:
        """Note a message from a controller; True when it had been offline (now back)."""
        door = self._doors.get(door_id)
        if door is None:
            self._doors[door_id] = _Door(at, True, True)
            return False
        came_back = not door.online
        door.last_seen = max(door.last_seen, at) if door.heard else at
        door.online, door.heard = True, True
        return came_back

    def expired(self, now: datetime) -> list[tuple[str, datetime, bool]]:
        """Controllers that went quiet and are not yet marked: (door, last seen, ever heard).

        Call :meth:`mark_offline` once the offline event is out, so a failed publish is
        tried again on the next check.
        """
        return [(door_id, door.last_seen, door.heard) for door_id, door in self._doors.items()
                if door.online and now - door.last_seen > self.timeout]

    def mark_offline(self, door_id: str) -> None:
        door = self._doors.get(door_id)
        if door is not None:
            door.online = False

    def online(self, door_id: str) -> bool | None:
        door = self._doors.get(door_id)
        return None if door is None else door.online
