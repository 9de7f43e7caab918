"""Uptime, recorded fraction and fps history from the TSDB: one aggregate query each;
uptime results kept briefly (:class:`UptimeCache`)."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from compoundeye.timeutil import utcnow
from compoundeye.tsdb import MetricsReader

log = logging.getLogger(__name__)

WINDOWS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
FPS_METRIC = "camera_fps_processed"
UP_METRIC = "camera_up"
RECORDED_METRIC = "camera_recorded_seconds"
_LABEL_SAFE = re.compile(r"^[A-Za-z0-9_.\- ]{1,64}$")


def _label_value(value: str) -> str:
    """A PromQL string literal for a label value (only plain site names are accepted)."""
    if not _LABEL_SAFE.fullmatch(value):
        raise ValueError(f"label value {value!r} has characters not allowed here")
    return '"' + value + '"'


@dataclass(frozen=True)
class Uptime:
    """Uptime fractions (0..1) per camera and per building over one window."""

    window: str
    cameras: dict[str, float]
    buildings: dict[str, float]


def _matchers(building: str | None, camera: str | None) -> str:
    matchers = []
    if building is not None:
        matchers.append(f"building={_label_value(building)}")
    if camera is not None:
        matchers.append(f"camera={_label_value(camera)}")
    return ",".join(matchers)


def _per_camera_and_building(reader: MetricsReader, promql: str, window: str,
                             scale: float = 1.0) -> Uptime:
    """One query ``avg by (camera, building) (...)``; a building's figure is the mean of
    its cameras' (each camera counts once, as on the page)."""
    cameras: dict[str, float] = {}
    by_building: dict[str, list[float]] = {}
    for s in reader.query(f"avg by (camera, building) ({promql})"):
        camera, building = s.labels.get("camera", ""), s.labels.get("building", "")
        if not camera:
            continue
        value = min(1.0, s.value * scale)
        cameras[camera] = round(value, 5)
        if building:
            by_building.setdefault(building, []).append(value)
    return Uptime(window=window, cameras=cameras,
                  buildings={b: round(sum(v) / len(v), 5) for b, v in by_building.items()})


def recorded(reader: MetricsReader, window: str, interval_seconds: float, *,
             building: str | None = None, camera: str | None = None) -> Uptime:
    """Recorded fraction (0..1) per camera and building over the window: the media seconds
    the edge finished (``camera_recorded_seconds``, one sample per metrics interval) over
    the seconds its samples span, i.e. their mean over the interval. Only cameras the edge
    records have the series. One query."""
    selector = f"{RECORDED_METRIC}{{{_matchers(building, camera)}}}[{window}]"
    return _per_camera_and_building(reader, f"avg_over_time({selector})", window,
                                    1.0 / interval_seconds)


def uptime(reader: MetricsReader, window: str, *, building: str | None = None,
           camera: str | None = None) -> Uptime:
    """The mean of ``camera_up`` over the window, by camera and by building; one query."""
    selector = f"{UP_METRIC}{{{_matchers(building, camera)}}}[{window}]"
    return _per_camera_and_building(reader, f"avg_over_time({selector})", window)


def fps_history(reader: MetricsReader, camera_ids: list[str], window: str,
                points: int = 30) -> dict[str, list[float | None]]:
    """Processed fps of some cameras over the window, ``points`` values each (one query)."""
    if not camera_ids:
        return {}
    span = WINDOWS[window]
    end = utcnow()
    start = end - span
    step = span.total_seconds() / points
    # Ids are [A-Za-z0-9_.-]: in a regex only "." is special, and it is escaped.
    alternatives = "|".join(c.replace(".", "\\\\.") for c in camera_ids)
    promql = f'max by (camera) ({FPS_METRIC}{{camera=~"{alternatives}"}})'
    series = reader.query_range(promql, start, end, step)
    wanted = set(camera_ids)
    out: dict[str, list[float | None]] = {}
    for s in series:
        camera = s.labels.get("camera", "")
        if camera not in wanted:
            continue
        slots: list[float | None] = [None] * (points + 1)
        for moment, value in s.points:
            index = round((moment - start).total_seconds() / step)
            if 0 <= index <= points:
                slots[index] = round(value, 2)
        out[camera] = slots
    return out


UptimeKey = tuple[str, str | None, str | None]
"""(window, building, camera) of an uptime request."""
UptimePair = tuple[Uptime, Uptime]
"""Uptime and recorded fraction of one request."""
FRESH_SECONDS = 30.0
STALE_SECONDS = 600.0


class UptimeCache:
    """Uptime (and recorded fraction) results kept briefly: a 24 h or 7 d mean moves little
    in a minute, and each one costs the TSDB a pass over every camera's samples.

    A result younger than ``fresh`` seconds is served as it is; one younger than
    ``stale`` is served at once while one refresh per key runs in the background (so a
    page never waits for the TSDB when anyone opened it in the last ten minutes); older
    or absent, the caller computes it. The clock is injectable for tests.
    """

    def __init__(self, fresh: float = FRESH_SECONDS, stale: float = STALE_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.fresh = fresh
        self.stale = stale
        self._clock = clock
        self._results: dict[UptimeKey, tuple[float, UptimePair]] = {}
        self._refreshing: set[UptimeKey] = set()
        self._lock = threading.Lock()

    def lookup(self, key: UptimeKey) -> tuple[UptimePair | None, bool]:
        """(a result to serve or None, whether the caller should refresh it in the
        background); a True is given to one caller per key until :meth:`store`."""
        with self._lock:
            found = self._results.get(key)
            if found is None:
                return None, False
            age = self._clock() - found[0]
            if age < self.fresh:
                return found[1], False
            if age >= self.stale:
                return None, False
            refresh = key not in self._refreshing
            self._refreshing.add(key)
            return found[1], refresh

    def store(self, key: UptimeKey, result: UptimePair) -> None:
        with self._lock:
            self._results[key] = (self._clock(), result)
            self._refreshing.discard(key)

    def failed(self, key: UptimeKey) -> None:
        """A background refresh failed: the next stale lookup may try again."""
        with self._lock:
            self._refreshing.discard(key)

    def refresh_in_background(self, key: UptimeKey,
                              compute: Callable[[], UptimePair]) -> None:
        """Compute ``key`` again in a thread of its own and keep the result (a failure is
        logged; the stale result stays until it is too old)."""

        def work() -> None:
            try:
                result = compute()
            except Exception as exc:  # the TSDB away: the page keeps the older figures
                log.warning("refreshing uptime %s failed: %s", key, exc)
                self.failed(key)
                return
            self.store(key, result)

        threading.Thread(target=work, name="uptime-refresh", daemon=True).start()
