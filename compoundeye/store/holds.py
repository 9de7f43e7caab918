"""Legal holds: cameras and a window a case keeps from retention until an admin releases
them. Placing and releasing write their audit row in the same transaction, so a hold
never exists without the record of who placed it.

Retention reads the active holds of its cameras as :class:`HeldWindows` and never deletes
a segment that overlaps one.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, select

from compoundeye.legal_holds import HeldWindows
from compoundeye.store import schema
from compoundeye.store.audit import record_in
from compoundeye.store.db import page, read_transaction, write_transaction
from compoundeye.store.models import Hold, InvalidTransitionError, NotFoundError, new_id
from compoundeye.timeutil import utcnow

H = schema.legal_holds
C = schema.legal_hold_cameras
PLACE_ACTION = "hold.place"
RELEASE_ACTION = "hold.release"


def _hold(row: Row[Any], cameras: Sequence[str]) -> Hold:
    return Hold(id=row.id, case_id=row.case_id, reason=row.reason,
                camera_ids=tuple(sorted(cameras)), start=row.window_start, end=row.window_end,
                placed_by=row.placed_by, placed_role=row.placed_role, placed_at=row.placed_at,
                released_by=row.released_by, released_at=row.released_at,
                release_reason=row.release_reason)


def _with_cameras(conn: Connection, rows: Sequence[Row[Any]]) -> list[Hold]:
    ids = [row.id for row in rows]
    cameras: dict[str, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for hold_id, camera_id in conn.execute(
                select(C.c.hold_id, C.c.camera_id).where(C.c.hold_id.in_(chunk))):
            cameras[hold_id].append(camera_id)
    return [_hold(row, cameras[row.id]) for row in rows]


def _audit_details(hold: Hold) -> dict[str, Any]:
    return {"case_id": hold.case_id, "reason": hold.reason, "camera_ids": list(hold.camera_ids),
            "start": hold.as_dict()["start"], "end": hold.as_dict()["end"]}


class HoldRepo:
    """Place, release and list legal holds (one transaction per call, audited)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def place(self, *, case_id: str, reason: str, camera_ids: Sequence[str], start: datetime,
              end: datetime, actor: str, role: str, ip: str | None = None) -> Hold:
        """A new active hold, audited as ``hold.place``."""
        cameras = sorted(set(camera_ids))
        if not cameras:
            raise ValueError("a hold needs at least one camera")
        if end <= start:
            raise ValueError("a hold's end must be after its start")
        now = utcnow()
        hold_id = new_id(now)
        with write_transaction(self._engine) as conn:
            conn.execute(H.insert().values(
                id=hold_id, case_id=case_id[:128], reason=reason, window_start=start,
                window_end=end, placed_by=actor[:128], placed_role=role[:32], placed_at=now))
            conn.execute(C.insert(), [{"hold_id": hold_id, "camera_id": c} for c in cameras])
            hold = self._get(conn, hold_id)
            record_in(conn, actor, role, PLACE_ACTION, hold_id, _audit_details(hold), ip, now)
        return hold

    def release(self, hold_id: str, *, actor: str, role: str, reason: str,
                ip: str | None = None) -> Hold:
        """End an active hold, audited as ``hold.release``; a released one cannot be again."""
        now = utcnow()
        with write_transaction(self._engine) as conn:
            row = conn.execute(select(H).where(H.c.id == hold_id).with_for_update()).first()
            if row is None:
                raise NotFoundError(f"no hold {hold_id!r}")
            if row.released_at is not None:
                raise InvalidTransitionError(f"hold {hold_id} was released already")
            conn.execute(H.update().where(H.c.id == hold_id).values(
                released_by=actor[:128], released_at=now, release_reason=reason))
            hold = self._get(conn, hold_id)
            record_in(conn, actor, role, RELEASE_ACTION, hold_id,
                      {**_audit_details(hold), "release_reason": reason}, ip, now)
        return hold

    def get(self, hold_id: str) -> Hold:
        """One hold; raises :class:`NotFoundError`."""
        with read_transaction(self._engine) as conn:
            return self._get(conn, hold_id)

    @staticmethod
    def _get(conn: Connection, hold_id: str) -> Hold:
        row = conn.execute(select(H).where(H.c.id == hold_id)).first()
        if row is None:
            raise NotFoundError(f"no hold {hold_id!r}")
        return _with_cameras(conn, [row])[0]

    def list(self, *, active: bool | None = None, case_id: str | None = None,
             camera_id: str | None = None, limit: int = 200,
             offset: int = 0) -> builtins.list[Hold]:
        """Holds newest first; ``active`` True/False for only active/released ones."""
        q = select(H)
        if active is True:
            q = q.where(H.c.released_at.is_(None))
        elif active is False:
            q = q.where(H.c.released_at.is_not(None))
        if case_id:
            q = q.where(H.c.case_id == case_id)
        if camera_id:
            q = q.where(H.c.id.in_(select(C.c.hold_id).where(C.c.camera_id == camera_id)))
        q = page(q.order_by(H.c.placed_at.desc(), H.c.id.desc()), limit, offset)
        with read_transaction(self._engine) as conn:
            return _with_cameras(conn, conn.execute(q).all())

    def held_windows(self, camera_ids: Iterable[str], *,
                     margin: timedelta = timedelta(seconds=20)) -> HeldWindows:
        """The active holds' windows of these cameras (what retention must keep)."""
        wanted = sorted(set(camera_ids))
        holds: builtins.list[Hold] = []
        with read_transaction(self._engine) as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start:start + 500]
                q = select(H).where(H.c.released_at.is_(None), H.c.id.in_(
                    select(C.c.hold_id).where(C.c.camera_id.in_(chunk))))
                holds.extend(_with_cameras(conn, conn.execute(q).all()))
        keep = set(wanted)
        trimmed = [replace(h, camera_ids=tuple(c for c in h.camera_ids if c in keep))
                   for h in {h.id: h for h in holds}.values()]
        return HeldWindows.of(trimmed, margin=margin)
