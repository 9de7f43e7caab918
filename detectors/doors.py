"""Door rules: pure state machines fed with door events and an injectable clock.

Rules: a door forced (opened with no grant within the grace window before it, or the
controller says so), held open past the door's limit, a burst of denials at one door or
for one credential, access outside the door's schedule, and impossible travel (one
credential at two doors too far apart for the time between).
The engine keeps bounded memory: old denials and presentations are pruned.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

EVENT_KINDS = frozenset({"granted", "denied", "opened", "closed", "forced", "held", "tamper"})
RULES = (
    "door_forced",
    "door_held",
    "door_denied_burst",
    "door_after_hours",
    "door_impossible_travel",
    "door_tamper",
)
EARTH_RADIUS_M = 6_371_008.8


class DoorEventError(ValueError):
    """A door event the rules cannot use; says why."""


@dataclass(frozen=True)
class DoorEvent:
    """One event from a door controller."""

    kind: str
    door_id: str
    ts: datetime
    credential: str | None = None
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise DoorEventError(f"unknown door event kind {self.kind!r}")
        if not self.door_id:
            raise DoorEventError("door event without a door id")
        if self.ts.tzinfo is None or self.ts.utcoffset() is None:
            raise DoorEventError("door event time must be timezone-aware")


@dataclass(frozen=True)
class DoorRulesConfig:
    """Thresholds of the door rules (mirrors the site file's ``door_rules``)."""

    forced_grace_seconds: float = 5.0
    denied_burst_count: int = 5
    denied_burst_window_seconds: float = 60.0
    travel_max_speed_mps: float = 3.0
    travel_min_distance_m: float = 200.0
    travel_memory_seconds: float = 6 * 3600.0
    """How long a credential's last presentation is remembered for the travel rule."""
    max_credentials: int = 100_000
    """Bound on credentials tracked at once; the least recently seen are forgotten."""


@dataclass(frozen=True)
class DoorSpec:
    """One door as the rules see it (mirrors the site file's door)."""

    door_id: str
    held_open_seconds: float = 30.0
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True)
class DoorFinding:
    """A rule fired (``clears=False``) or its condition ended (``clears=True``)."""

    rule: str
    door_id: str
    ts: datetime
    credential: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    clears: bool = False


ScheduleCheck = Callable[[str, datetime], bool]
"""``is_open(door_id, ts)``: whether access is allowed at that door at that time."""


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres between two WGS84 points."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass
class _DoorState:
    open_since: datetime | None = None
    held_raised: bool = False
    forced_raised: bool = False
    last_permit: datetime | None = None
    denials: deque[datetime] = field(default_factory=deque)
    burst_raised: bool = False


@dataclass
class _CredentialState:
    door_id: str
    ts: datetime
    denials: deque[datetime] = field(default_factory=deque)
    burst_raised: bool = False


class DoorRuleEngine:
    """Applies every door rule to a stream of door events.

    ``feed(event)`` returns the findings the event causes; ``tick(now)`` returns the
    time-driven ones (a door held open past its limit fires without a new event).
    Unknown doors get the default :class:`DoorSpec`, so a door missing from the
    configuration is still watched (without positions it never counts for travel).
    """

    def __init__(
        self,
        rules: DoorRulesConfig | None = None,
        doors: Mapping[str, DoorSpec] | None = None,
        is_open: ScheduleCheck | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.rules = rules or DoorRulesConfig()
        self.doors = dict(doors or {})
        self._is_open = is_open
        self._clock = clock or (lambda: datetime.now(UTC))
        self._doors: dict[str, _DoorState] = {}
        self._credentials: OrderedDict[str, _CredentialState] = OrderedDict()

    def spec(self, door_id: str) -> DoorSpec:
        """The door's configuration, or defaults for an unknown door."""
        return self.doors.get(door_id) or DoorSpec(door_id)

    def feed(self, event: DoorEvent) -> list[DoorFinding]:
        """Apply one event; return the findings it raised or cleared."""
        door = self._doors.setdefault(event.door_id, _DoorState())
        out = self._held(event.door_id, door, event.ts)
        kind = event.kind
        if kind == "granted":
            door.last_permit = event.ts
            out += self._after_hours(event)
            out += self._travel(event)
        elif kind == "denied":
            out += self._travel(event)
            out += self._denied(event, door)
        elif kind == "opened":
            out += self._opened(event, door)
        elif kind == "forced":
            if door.open_since is None:
                door.open_since = event.ts
            out += self._raise_forced(event, door, "controller")
        elif kind == "held":
            if door.open_since is None:
                door.open_since = event.ts
            if not door.held_raised:
                door.held_raised = True
                out.append(
                    DoorFinding("door_held", event.door_id, event.ts, details={"by": "controller"})
                )
        elif kind == "closed":
            out += self._closed(event, door)
        elif kind == "tamper":
            out.append(
                DoorFinding(
                    "door_tamper", event.door_id, event.ts, event.credential,
                    {"reason": event.reason or ""},
                )
            )
        return out

    def tick(self, now: datetime | None = None) -> list[DoorFinding]:
        """Time passes: fire held-open doors and prune old state."""
        at = now or self._clock()
        if at.tzinfo is None:
            raise DoorEventError("tick time must be timezone-aware")
        out: list[DoorFinding] = []
        for door_id, door in self._doors.items():
            out += self._held(door_id, door, at)
        self._prune(at)
        return out

    def tracked(self) -> tuple[int, int]:
        """(doors, credentials) currently held in memory."""
        return len(self._doors), len(self._credentials)

    # -- rules ---------------------------------------------------------------------------

    def _opened(self, event: DoorEvent, door: _DoorState) -> list[DoorFinding]:
        if door.open_since is not None:
            return []  # already open: a repeated report, not a new opening
        door.open_since = event.ts
        grace = timedelta(seconds=self.rules.forced_grace_seconds)
        permitted = door.last_permit is not None and (
            event.ts - grace <= door.last_permit <= event.ts
        )
        if permitted:
            door.last_permit = None  # one grant lets the door open once
            return []
        details = {"by": "no_grant", "grace_seconds": self.rules.forced_grace_seconds}
        if door.last_permit is not None:
            details["last_permit_age_s"] = (event.ts - door.last_permit).total_seconds()
        return self._raise_forced(event, door, details=details)

    def _raise_forced(
        self,
        event: DoorEvent,
        door: _DoorState,
        by: str = "",
        details: dict[str, Any] | None = None,
    ) -> list[DoorFinding]:
        if door.forced_raised:
            return []
        door.forced_raised = True
        info = details or {"by": by}
        return [DoorFinding("door_forced", event.door_id, event.ts, event.credential, info)]

    def _closed(self, event: DoorEvent, door: _DoorState) -> list[DoorFinding]:
        out: list[DoorFinding] = []
        opened = door.open_since
        details = {"open_seconds": (event.ts - opened).total_seconds()} if opened else {}
        if door.forced_raised:
            out.append(DoorFinding("door_forced", event.door_id, event.ts, None, details, True))
        if door.held_raised:
            out.append(DoorFinding("door_held", event.door_id, event.ts, None, details, True))
        door.open_since, door.forced_raised, door.held_raised = None, False, False
        return out

    def _held(self, door_id: str, door: _DoorState, now: datetime) -> list[DoorFinding]:
        if door.open_since is None or door.held_raised:
            return []
        limit = self.spec(door_id).held_open_seconds
        open_for = (now - door.open_since).total_seconds()
        if open_for < limit:
            return []
        door.held_raised = True
        details = {"open_seconds": open_for, "limit_seconds": limit}
        return [DoorFinding("door_held", door_id, now, None, details)]

    def _denied(self, event: DoorEvent, door: _DoorState) -> list[DoorFinding]:
        out: list[DoorFinding] = []
        window = timedelta(seconds=self.rules.denied_burst_window_seconds)
        count = _slide(door.denials, event.ts, window)
        if count < self.rules.denied_burst_count:
            door.burst_raised = False
        elif not door.burst_raised:
            door.burst_raised = True
            out.append(self._burst(event, "door", count))
        if event.credential:
            cred = self._credential(event)
            count = _slide(cred.denials, event.ts, window)
            if count < self.rules.denied_burst_count:
                cred.burst_raised = False
            elif not cred.burst_raised:
                cred.burst_raised = True
                out.append(self._burst(event, "credential", count))
        return out

    def _burst(self, event: DoorEvent, scope: str, count: int) -> DoorFinding:
        details = {
            "scope": scope,
            "count": count,
            "window_seconds": self.rules.denied_burst_window_seconds,
            "reason": event.reason or "",
        }
        credential = event.credential if scope == "credential" else None
        return DoorFinding("door_denied_burst", event.door_id, event.ts, credential, details)

    def _after_hours(self, event: DoorEvent) -> list[DoorFinding]:
        if self._is_open is None or self._is_open(event.door_id, event.ts):
            return []
        return [DoorFinding("door_after_hours", event.door_id, event.ts, event.credential, {})]

    def _travel(self, event: DoorEvent) -> list[DoorFinding]:
        if not event.credential:
            return []
        previous = self._credentials.get(event.credential)
        last_door, last_ts = (previous.door_id, previous.ts) if previous else (None, None)
        self._credential(event)
        if last_door is None or last_ts is None or last_door == event.door_id:
            return []
        here, there = self.spec(event.door_id), self.spec(last_door)
        if here.lat is None or here.lon is None or there.lat is None or there.lon is None:
            return []
        distance = haversine_m(there.lat, there.lon, here.lat, here.lon)
        seconds = abs((event.ts - last_ts).total_seconds())
        if distance < self.rules.travel_min_distance_m:
            return []
        speed = distance / seconds if seconds > 0 else math.inf
        if speed <= self.rules.travel_max_speed_mps:
            return []
        details = {
            "from_door": last_door,
            "distance_m": round(distance, 1),
            "seconds": seconds,
            "speed_mps": round(speed, 2) if math.isfinite(speed) else None,
            "max_speed_mps": self.rules.travel_max_speed_mps,
        }
        rule = "door_impossible_travel"
        return [DoorFinding(rule, event.door_id, event.ts, event.credential, details)]

    # -- memory --------------------------------------------------------------------------

    def _credential(self, event: DoorEvent) -> _CredentialState:
        assert event.credential is not None
        state = self._credentials.get(event.credential)
        if state is None:
            state = _CredentialState(event.door_id, event.ts)
            self._credentials[event.credential] = state
            while len(self._credentials) > self.rules.max_credentials:
                self._credentials.popitem(last=False)
        else:
            if event.ts >= state.ts:
                state.door_id, state.ts = event.door_id, event.ts
            self._credentials.move_to_end(event.credential)
        return state

    def _prune(self, now: datetime) -> None:
        window = timedelta(seconds=self.rules.denied_burst_window_seconds)
        memory = timedelta(seconds=max(self.rules.travel_memory_seconds, window.total_seconds()))
        for door in self._doors.values():
            _slide(door.denials, None, window, now)
            if not door.denials:
                door.burst_raised = False
        stale = [
            key for key, cred in self._credentials.items()
            if now - cred.ts > memory and not _slide(cred.denials, None, window, now)
        ]
        for key in stale:
            del self._credentials[key]
        idle = [
            key for key, door in self._doors.items()
            if door.open_since is None
            and not (door.denials or door.held_raised or door.forced_raised)
            and (
                door.last_permit is None or now - door.last_permit > memory
            )
        ]
        for key in idle:
            del self._doors[key]


def _slide(
    times: deque[datetime],
    new: datetime | None,
    window: timedelta,
    now: datetime | None = None,
) -> int:
    """Append ``new`` (if any), drop times older than ``window`` before now; return the count.

    A time exactly ``window`` before now is still inside.
    """
    if new is not None:
        times.append(new)
    at = now or new
    if at is None:
        return len(times)
    while times and at - times[0] > window:
        times.popleft()
    return len(times)
