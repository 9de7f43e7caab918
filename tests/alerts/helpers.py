"""Shared helpers of the alerting tests: a small site, events, a running service."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from alerts.service import AlertService
from compoundeye.events import Event, EventKind, make_event
from compoundeye.settings import Settings
from compoundeye.site.models import (
    Alerting,
    Camera,
    Door,
    Location,
    Schedule,
    Site,
    TimeRange,
    Zone,
)
from compoundeye.store import Store
from tests.threads import running_in_thread

SQUARE = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0)]


def make_site(*, claim_idle: float = 30.0, max_deliveries: int = 5, cameras: int = 4,
              held: float = 30.0, stale: float = 3600.0) -> Site:
    loc = Location(building="B07", zone="north", lat=31.11, lon=121.38)
    cams = [Camera(id=f"cam-{i}", name=f"Camera {i}", main_url=f"rtsp://sim/cam-{i}",
                   location=loc,
                   zones=[Zone(name="lobby", polygon=SQUARE, armed_schedule="always"),
                          Zone(name="street", polygon=SQUARE)])
            for i in range(1, cameras + 1)]
    return Site(
        cameras=cams,
        doors=[Door(id="d1", name="Block 7 main door", location=loc, cameras=["cam-1", "cam-2"],
                    held_open_seconds=held),
               Door(id="d2", location=loc)],
        schedules={"always": Schedule(ranges=[TimeRange()])},
        alerting=Alerting(claim_idle_seconds=claim_idle, max_deliveries=max_deliveries,
                          camera_stale_seconds=stale),
    )


def ev(kind: EventKind, source: str, ts: datetime, n: int = 0, **attrs: Any) -> Event:
    stype = "door" if kind.value.startswith("door.") else "camera"
    return make_event(kind, stype, source, ts, attrs, id_parts=(n,))  # type: ignore[arg-type]


@contextmanager
def running_service(site: Site, settings: Settings, store: Store, **kwargs: Any
                    ) -> Iterator[AlertService]:
    service = AlertService(site, settings, store=store, **kwargs)
    with running_in_thread(service, service.ready, "alerts") as started:
        yield started


def later(ts: datetime, seconds: float) -> datetime:
    return ts + timedelta(seconds=seconds)


def now_ms() -> datetime:
    """Now, at the millisecond resolution events carry on the wire."""
    from compoundeye.timeutil import utcnow

    t = utcnow()
    return t.replace(microsecond=t.microsecond // 1000 * 1000)
