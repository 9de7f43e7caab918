"""The chain of custody of a case: who searched, played back, viewed, exported, downloaded
or verified its footage, when, from where, with the hashes involved.

A case is its exports and legal holds (by case id): together they say which cameras and
windows it is about. The report is every audit row that names the case, one of its
exports or holds, or that touched one of its cameras over an overlapping window (a search
that found the camera, a playback session, a clip view, a live view during the window),
oldest first, each with the reason it is in the report. Nobody can have looked at a
recording before it was made, so rows before the earliest window are not read.

Audit actions read (by name): ``recordings.search``, ``recordings.clip``, ``alert.clip``,
``playback.start``/``playback.end`` (details ``cameras``, ``window_start``,
``window_end``), ``live.start``/``live.end`` (target: the camera; ``live.end`` details
``start`` and ``end`` of the view), ``export.create``,
``export.done``, ``export.failed``, ``export.refused``, ``export.download``,
``export.verify``, ``hold.place``, ``hold.release``, ``custody.report``.

The report ends with the audit chain's state when it was made (intact or where broken,
and the head row's id and hash), so a printed report is also an anchor for a later
``compoundeye audit verify --anchor``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from compoundeye.store import AuditEntry, ExportRecord, Hold, Store
from compoundeye.store.audit_chain import verify_chain
from compoundeye.timeutil import parse_rfc3339, utcnow

REPORT_ACTION = "custody.report"
SEARCH, CLIP, ALERT_CLIP = "recordings.search", "recordings.clip", "alert.clip"
PLAYBACK = ("playback.start", "playback.end")
LIVE = ("live.start", "live.end")
EXPORT_ACTIONS = ("export.create", "export.done", "export.failed", "export.download",
                  "export.verify")
REFUSED = "export.refused"
HOLD_ACTIONS = ("hold.place", "hold.release")
ACTIONS: tuple[str, ...] = (SEARCH, CLIP, ALERT_CLIP, *PLAYBACK, *LIVE, *EXPORT_ACTIONS,
                            REFUSED, *HOLD_ACTIONS, REPORT_ACTION)
"""Every audit action the report reads."""
KIND = {SEARCH: "search", CLIP: "clip view", ALERT_CLIP: "clip view",
        "playback.start": "playback", "playback.end": "playback", "live.start": "live view",
        "live.end": "live view", "export.create": "export", "export.done": "export",
        "export.failed": "export", "export.refused": "export", "export.download": "download",
        "export.verify": "verify", "hold.place": "legal hold", "hold.release": "legal hold",
        REPORT_ACTION: "custody report"}
PAGE = 5000
MAX_ROWS = 50_000


class CaseNotFoundError(LookupError):
    """No export, hold or audit record names the case."""


@dataclass(frozen=True)
class Window:
    """A camera over a time span the case is about."""

    camera_id: str
    start: datetime
    end: datetime


class CustodyEvent(BaseModel):
    """One audited action in the case's custody."""

    audit_id: int
    at: datetime
    actor: str
    role: str
    ip: str | None
    action: str
    kind: str
    target: str
    cameras: list[str] = Field(default_factory=list)
    window_start: datetime | None = None
    window_end: datetime | None = None
    hashes: dict[str, str] = Field(default_factory=dict)
    why: str
    details: dict[str, Any]
    row_hash: str | None


class CaseExport(BaseModel):
    """One export of the case."""

    id: str
    requester: str
    status: str
    created_at: datetime
    finished_at: datetime | None
    camera_ids: list[str]
    start: datetime | None
    end: datetime | None
    manifest_sha256: str | None = None
    signing_key_id: str | None = None


class ChainState(BaseModel):
    """The audit chain when the report was made."""

    ok: bool
    rows: int
    head_id: int | None
    head_hash: str | None
    broken_id: int | None = None
    problem: str | None = None


class CustodyReport(BaseModel):
    """A case's custody: what it is about, and every action on its footage."""

    case_id: str
    generated_at: datetime
    generated_by: str
    cameras: list[str]
    windows: list[dict[str, Any]]
    exports: list[CaseExport]
    holds: list[dict[str, Any]]
    events: list[CustodyEvent]
    audit_chain: ChainState
    truncated: bool = False
    actions_read: list[str] = Field(default_factory=lambda: list(ACTIONS))


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_rfc3339(value)
    except ValueError:
        return None


def _overlaps(windows: Sequence[Window], cameras: Iterable[str], start: datetime | None,
              end: datetime | None) -> list[str]:
    """Which of ``cameras`` the case covers over an overlapping span."""
    hit = []
    for camera in cameras:
        for w in windows:
            if w.camera_id == camera and (start is None or start < w.end) and (
                    end is None or end > w.start):
                hit.append(camera)
                break
    return hit


def _export_window(record: ExportRecord) -> tuple[list[str], datetime | None, datetime | None]:
    request = record.request
    cameras = [str(c) for c in request.get("camera_ids") or []]
    return cameras, _time(request.get("start")), _time(request.get("end"))


class _Scope:
    """What the case is about: its exports, holds, cameras and windows."""

    def __init__(self, case_id: str, exports: list[ExportRecord], holds: list[Hold]) -> None:
        self.case_id = case_id
        self.exports = {e.id: e for e in exports}
        self.holds = {h.id: h for h in holds}
        self.windows: list[Window] = []
        for record in exports:
            cameras, start, end = _export_window(record)
            if start is not None and end is not None:
                self.windows += [Window(c, start, end) for c in cameras]
        for hold in holds:
            self.windows += [Window(c, hold.start, hold.end) for c in hold.camera_ids]

    @property
    def earliest(self) -> datetime | None:
        return min((w.start for w in self.windows), default=None)

    def why(self, entry: AuditEntry) -> tuple[str, list[str], datetime | None,
                                              datetime | None] | None:
        """Why the row belongs to the case (and the cameras and window it touched), or None."""
        d = entry.details
        if entry.action in EXPORT_ACTIONS and (entry.target in self.exports
                                               or d.get("case_id") == self.case_id):
            cameras, start, end = (_export_window(self.exports[entry.target])
                                   if entry.target in self.exports else ([], None, None))
            return f"export {entry.target} of the case", cameras, start, end
        if entry.action in HOLD_ACTIONS and entry.target in self.holds:
            hold = self.holds[entry.target]
            return (f"legal hold {entry.target} of the case", list(hold.camera_ids),
                    hold.start, hold.end)
        if entry.action in (REFUSED, REPORT_ACTION) and entry.target == self.case_id:
            return "names the case", [], None, None
        cameras, start, end = self._touched(entry)
        if d.get("case_id") == self.case_id:
            return "names the case", cameras, start, end
        hit = _overlaps(self.windows, cameras, start, end)
        if hit:
            return (f"{', '.join(hit[:5])}{' ...' if len(hit) > 5 else ''} in the case's "
                    "window", cameras, start, end)
        return None

    @staticmethod
    def _touched(entry: AuditEntry) -> tuple[list[str], datetime | None, datetime | None]:
        d = entry.details
        if entry.action == SEARCH:
            return [str(c) for c in d.get("cameras") or []], _time(d.get("start")), _time(
                d.get("end"))
        if entry.action in (CLIP, ALERT_CLIP):
            camera = d.get("camera") or entry.target
            return [str(camera)], _time(d.get("start")), _time(d.get("end"))
        if entry.action in PLAYBACK:
            return ([str(c) for c in d.get("cameras") or []], _time(d.get("window_start")),
                    _time(d.get("window_end")))
        if entry.action in LIVE:  # live pictures of the moment itself
            camera = d.get("camera") or entry.target
            start, end = _time(d.get("start")), _time(d.get("end"))  # live.end has both
            if start is None or end is None:
                start, end = entry.at - timedelta(seconds=1), entry.at
            return [str(camera)], start, end
        return [], None, None


def _hashes(entry: AuditEntry) -> dict[str, str]:
    d = entry.details
    out = {key: str(d[key]) for key in ("manifest_sha256", "sha256", "clip_sha256",
                                        "zip_sha256", "file_sha256") if d.get(key)}
    files = d.get("files")
    if isinstance(files, dict):
        out.update({str(path): str(digest) for path, digest in files.items()})
    return out


def _paged(store: Store, since: datetime | None) -> tuple[list[AuditEntry], bool]:
    rows: list[AuditEntry] = []
    offset = 0
    while len(rows) < MAX_ROWS:
        page = store.audit.list(actions=ACTIONS, since=since, limit=PAGE, offset=offset)
        rows.extend(page)
        if len(page) < PAGE:
            return rows, False
        offset += PAGE
    return rows, True


def _case_exports(store: Store, case_id: str, entries: list[AuditEntry]) -> list[CaseExport]:
    done = {e.target: e for e in entries if e.action == "export.done"}
    out = []
    for record in store.exports.list(case_id=case_id, limit=10_000):
        cameras, start, end = _export_window(record)
        finished = done.get(record.id)
        out.append(CaseExport(
            id=record.id, requester=record.requester, status=record.status,
            created_at=record.created_at, finished_at=record.finished_at, camera_ids=cameras,
            start=start, end=end,
            manifest_sha256=str(finished.details.get("manifest_sha256") or "") or None
            if finished else None,
            signing_key_id=str(finished.details.get("signing_key_id") or "") or None
            if finished else None))
    return sorted(out, key=lambda e: e.created_at)


def build_report(store: Store, case_id: str, *, generated_by: str) -> CustodyReport:
    """The custody report of ``case_id`` (raises :class:`CaseNotFoundError`)."""
    exports = store.exports.list(case_id=case_id, limit=10_000)
    holds = store.holds.list(case_id=case_id, limit=10_000)
    scope = _Scope(case_id, exports, holds)
    since = scope.earliest
    if since is None:
        named = store.audit.list(action=REFUSED, target=case_id, limit=1)
        if not named:
            raise CaseNotFoundError(f"no export, legal hold or audit record names case "
                                    f"{case_id!r}")
    rows, truncated = _paged(store, since)
    events = []
    for entry in reversed(rows):  # oldest first
        found = scope.why(entry)
        if found is None:
            continue
        why, cameras, start, end = found
        events.append(CustodyEvent(
            audit_id=entry.id, at=entry.at, actor=entry.actor, role=entry.role, ip=entry.ip,
            action=entry.action, kind=KIND.get(entry.action, entry.action),
            target=entry.target, cameras=cameras, window_start=start, window_end=end,
            hashes=_hashes(entry), why=why, details=entry.details, row_hash=entry.row_hash))
    chain = verify_chain(store.engine)
    return CustodyReport(
        case_id=case_id, generated_at=utcnow(), generated_by=generated_by,
        cameras=sorted({w.camera_id for w in scope.windows}),
        windows=[{"camera_id": w.camera_id, "start": w.start, "end": w.end}
                 for w in scope.windows],
        exports=_case_exports(store, case_id, rows), holds=[h.as_dict() for h in holds],
        events=events, audit_chain=ChainState(**chain.as_dict()), truncated=truncated)


def record_report(store: Store, report: CustodyReport, *, actor: str, role: str,
                  ip: str | None, output: str) -> None:
    """Audit that the report was made (it then appears in the next report)."""
    store.audit.record(actor, role, REPORT_ACTION, report.case_id[:256], {
        "case_id": report.case_id, "format": output, "events": len(report.events),
        "audit_head_id": report.audit_chain.head_id,
        "audit_head_hash": report.audit_chain.head_hash}, ip)
