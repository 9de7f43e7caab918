"""How much motion is normal per camera, zone and hour of the week, and when it is not.

An online mean and variance per (zone, hour-of-week) slot (Welford's method, turning
into an exponentially weighted average once a slot has ``max_weight`` samples so old
weeks fade). The state is a flat ``dict[str, str]`` with one field per zone, ready for
a Redis hash, so the caller can persist it and restore it after a restart; this module
does no I/O::

    client.hset(activity_key(camera), mapping=baseline.to_state())
    baseline = ActivityBaseline.from_state(camera, client.hgetall(activity_key(camera)))
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

HOURS_PER_WEEK = 168
STATE_VERSION = "1"
_VERSION_FIELD = "_v"


def hour_of_week(moment: datetime) -> int:
    """0 for Monday 00:00-00:59 up to 167 for Sunday 23:00-23:59, in ``moment``'s zone."""
    if moment.tzinfo is None:
        raise ValueError("hour_of_week needs a timezone-aware datetime")
    return moment.weekday() * 24 + moment.hour


@dataclass(frozen=True)
class ActivityConfig:
    """Warm-up and band width of :class:`ActivityBaseline`."""

    min_samples: int = 4
    """Samples a slot needs before it may report an anomaly (4 = four weeks of hourly sums)."""
    sigmas: float = 4.0
    """Distance from the mean, in standard deviations, that is 'far outside'."""
    min_std: float = 0.02
    """Floor on the standard deviation, so a slot that was always identical is not brittle."""
    min_relative_std: float = 0.15
    """Second floor, relative to the mean (activity varies more where there is more of it)."""
    max_weight: int = 12
    """Past this many samples a slot becomes an exponential average with weight 1/max_weight."""


@dataclass(frozen=True)
class ActivityAnomaly:
    """Activity far outside the normal band of a zone's hour-of-week slot."""

    zone: str
    hour_of_week: int
    observed: float
    expected: float
    low: float
    high: float
    samples: int
    direction: str
    """``"high"`` (more activity than normal) or ``"low"`` (less)."""


@dataclass
class _Slot:
    count: int = 0
    mean: float = 0.0
    var: float = 0.0
    """Population variance (weighted once past ``max_weight`` samples)."""

    def add(self, value: float, max_weight: int) -> None:
        # With weight 1/n this is Welford's exact update; capping n turns it into an
        # exponentially weighted mean and variance with the same formula.
        self.count += 1
        weight = 1.0 / min(self.count, max_weight)
        delta = value - self.mean
        self.mean += weight * delta
        self.var = (1.0 - weight) * (self.var + weight * delta * delta)


class ActivityBaseline:
    """The normal amount of motion of one camera's zones for each hour of the week.

    ``value`` is whatever activity measure the caller aggregates per slot (for example
    the fraction of an hour a zone was in motion); the model is indifferent to units.
    """

    def __init__(self, camera_id: str, config: ActivityConfig | None = None) -> None:
        self.camera_id = camera_id
        self.config = config or ActivityConfig()
        self._slots: dict[tuple[str, int], _Slot] = {}

    def observe(self, zone: str, hour_of_week: int, value: float) -> None:
        """Add one observation of a zone's activity in a slot."""
        _check_slot(zone, hour_of_week)
        if not math.isfinite(value):
            raise ValueError(f"activity value must be finite, got {value!r}")
        slot = self._slots.setdefault((zone, hour_of_week), _Slot())
        slot.add(value, self.config.max_weight)

    def band(self, zone: str, hour_of_week: int) -> tuple[float, float, float, int] | None:
        """(expected, low, high, samples) of a slot, or None before any sample."""
        _check_slot(zone, hour_of_week)
        slot = self._slots.get((zone, hour_of_week))
        if slot is None:
            return None
        cfg = self.config
        spread = math.sqrt(max(slot.var, 0.0))
        std = max(spread, cfg.min_std, cfg.min_relative_std * abs(slot.mean))
        return slot.mean, slot.mean - cfg.sigmas * std, slot.mean + cfg.sigmas * std, slot.count

    def check(self, zone: str, hour_of_week: int, value: float) -> ActivityAnomaly | None:
        """An anomaly when ``value`` is outside the slot's band after its warm-up."""
        band = self.band(zone, hour_of_week)
        if band is None:
            return None
        expected, low, high, samples = band
        if samples < self.config.min_samples or low <= value <= high:
            return None
        direction = "high" if value > high else "low"
        return ActivityAnomaly(zone, hour_of_week, value, expected, low, high, samples, direction)

    def zones(self) -> list[str]:
        """Zones with at least one observation."""
        return sorted({zone for zone, _ in self._slots})

    def zone_state(self, zone: str) -> str:
        """One zone's slots as a compact string: ``hour:count,mean,var`` joined by ``;``.

        This is the value of the zone's field in :meth:`to_state`, so a caller can
        write back only the zone it just observed (``HSET key zone value``).
        """
        _check_slot(zone, 0)
        return ";".join(
            f"{how}:{slot.count},{slot.mean!r},{slot.var!r}"
            for (z, how), slot in sorted(self._slots.items())
            if z == zone
        )

    def to_state(self) -> dict[str, str]:
        """The model as a flat dict of strings, one field per zone (see :meth:`zone_state`)
        plus a format version, ready for ``HSET key mapping=...``."""
        state = {_VERSION_FIELD: STATE_VERSION}
        for zone in self.zones():
            state[zone] = self.zone_state(zone)
        return state

    @classmethod
    def from_state(
        cls,
        camera_id: str,
        state: Mapping[str, str] | Mapping[bytes, bytes],
        config: ActivityConfig | None = None,
    ) -> ActivityBaseline:
        """Rebuild from :meth:`to_state` output (str or bytes, as redis returns them).

        Raises ValueError naming the bad field when the state is malformed.
        """
        baseline = cls(camera_id, config)
        for raw_key, raw_value in state.items():
            key = raw_key.decode() if isinstance(raw_key, bytes) else raw_key
            value = raw_value.decode() if isinstance(raw_value, bytes) else raw_value
            if key == _VERSION_FIELD:
                if value != STATE_VERSION:
                    raise ValueError(f"activity state version {value!r} is not {STATE_VERSION}")
                continue
            try:
                _check_slot(key, 0)
                for item in filter(None, value.split(";")):
                    how, slot = _parse_slot(key, item)
                    baseline._slots[(key, how)] = slot
            except ValueError as exc:
                raise ValueError(f"bad activity state field {key!r}={value!r}: {exc}") from exc
        return baseline


def _parse_slot(zone: str, item: str) -> tuple[int, _Slot]:
    how_text, numbers = item.split(":")
    count_text, mean_text, var_text = numbers.split(",")
    how = int(how_text)
    _check_slot(zone, how)
    slot = _Slot(int(count_text), float(mean_text), float(var_text))
    if slot.count < 0 or not (math.isfinite(slot.mean) and math.isfinite(slot.var)):
        raise ValueError(f"slot {item!r} has a negative count or a non-finite value")
    if slot.var < 0:
        raise ValueError(f"slot {item!r} has a negative variance")
    return how, slot


def _check_slot(zone: str, hour_of_week: int) -> None:
    if not zone or "|" in zone:
        raise ValueError(f"zone name must be non-empty without '|', got {zone!r}")
    if not 0 <= hour_of_week < HOURS_PER_WEEK:
        raise ValueError(f"hour_of_week must be 0..167, got {hour_of_week}")
