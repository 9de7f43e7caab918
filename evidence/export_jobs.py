"""Background exports: a bounded number at once, each with progress and a status, every
request checked against the limits and against what was recorded before any work starts
(a window with no recording is refused; a partly covered one lists its gaps at once),
and audited."""

from __future__ import annotations

import contextlib
import logging
import shutil
import threading
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from compoundeye.settings import Settings
from compoundeye.site.models import Site
from compoundeye.timeutil import to_rfc3339, utcnow
from evidence.audit import AuditLog, ExportRecords, LogAudit
from evidence.export_models import (
    CameraPlan,
    ExportLimits,
    ExportNotFoundError,
    ExportRefusedError,
    ExportRequest,
    ExportState,
    ExportStatus,
    NothingRecordedError,
    export_dir,
    new_export_id,
)
from evidence.exporter import Exporter, ExportResult
from evidence.manifest import MANIFEST_NAME, read_manifest
from evidence.search import Span
from evidence.signing import Keyring

log = logging.getLogger(__name__)


class ExportManager:
    """Runs exports in background threads, at most ``limits.max_concurrent`` at once.

    ``submit`` refuses (``ExportRefusedError`` with the reason) a request over a limit, for
    an unknown camera, or when too many exports are pending; otherwise it returns the
    queued status at once. ``status`` reports state, progress 0..1 and phase.
    """

    def __init__(self, site: Site, recordings_root: Path, exports_root: Path, *,
                 keyring: Keyring, limits: ExportLimits | None = None,
                 audit: AuditLog | None = None, records: ExportRecords | None = None) -> None:
        self.limits = limits or ExportLimits()
        self.exports_root = exports_root
        self.keyring = keyring
        self.exporter = Exporter(site, recordings_root, keyring=keyring)
        self.audit: AuditLog = audit or LogAudit()
        self.records = records
        self._lock = threading.Lock()
        self._status: dict[str, ExportStatus] = {}
        self._futures: dict[str, Future[None]] = {}
        self._asked: dict[str, tuple[ExportRequest, str, str | None]] = {}
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=self.limits.max_concurrent,
                                        thread_name_prefix="export")

    @classmethod
    def from_settings(cls, site: Site, settings: Settings, *, store: Any = None,
                      limits: ExportLimits | None = None) -> ExportManager:
        """A manager on the data directory of ``settings``, auditing to ``store`` (a
        :class:`compoundeye.store.Store`) when given."""
        return cls(site, settings.recordings_dir, settings.exports_dir,
                   keyring=Keyring.from_settings(settings), limits=limits,
                   audit=store.audit if store is not None else None,
                   records=store.exports if store is not None else None)

    def check(self, request: ExportRequest) -> None:
        """Raise :class:`ExportRefusedError` with a clear reason if the request is over a limit."""
        if request.hours > self.limits.max_hours:
            raise ExportRefusedError(f"window of {request.hours:.2f} h is over the limit of "
                                     f"{self.limits.max_hours:g} h; split the request")
        if len(request.camera_ids) > self.limits.max_cameras:
            raise ExportRefusedError(f"{len(request.camera_ids)} cameras is over the limit of "
                                     f"{self.limits.max_cameras}; split the request")
        self.exporter.cameras(request)

    def plan(self, request: ExportRequest) -> list[CameraPlan]:
        """What each camera recorded in the window, and the gaps; refuses
        (:class:`NothingRecordedError`) a window in which no camera recorded anything."""
        window = (request.end - request.start).total_seconds()
        plans = []
        for chosen in self.exporter.select(request):
            gaps = [Span(start=g.start, end=g.end, reason=g.reason) for g in chosen.gaps]
            missing = sum(g.seconds for g in chosen.gaps)
            recorded = max(0.0, window - missing) if chosen.segments else 0.0
            plans.append(CameraPlan(camera_id=chosen.camera_id, segments=len(chosen.segments),
                                    recorded_seconds=round(recorded, 3),
                                    coverage=round(recorded / window, 4), gaps=gaps))
        if not any(p.segments for p in plans):
            now = utcnow()
            when = ("the window is in the future" if request.start >= now else
                    "no usable recording in the window")
            reasons = "; ".join(f"{p.camera_id}: " + (", ".join(sorted({g.reason or ""
                                                                        for g in p.gaps}))
                                                      or "no recording") for p in plans)
            raise NothingRecordedError(f"nothing was recorded there: {when} "
                                       f"({reasons[:1500]})")
        return plans

    def submit(self, request: ExportRequest, *, role: str = "investigator",
               ip: str | None = None) -> ExportStatus:
        """Queue an export; refused requests are audited too."""
        try:
            if self._stop.is_set():
                raise ExportRefusedError("the export service is stopping")
            self.check(request)
            plans = self.plan(request)
            with self._lock:
                pending = sum(1 for s in self._status.values()
                              if s.state in (ExportState.QUEUED, ExportState.RUNNING))
                if pending >= self.limits.max_pending:
                    raise ExportRefusedError(f"{pending} exports are already pending (limit "
                                             f"{self.limits.max_pending}); try again later")
                export_id = new_export_id()
                status = ExportStatus(
                    id=export_id, state=ExportState.QUEUED, case_id=request.case_id,
                    requester=request.requester, camera_ids=list(request.camera_ids),
                    start=request.start, end=request.end, created_at=utcnow(),
                    directory=str(export_dir(self.exports_root, export_id)), coverage=plans)
                self._status[export_id] = status
                self._asked[export_id] = (request, role, ip)
        except ExportRefusedError as exc:
            self.audit.record(request.requester, role, "export.refused", request.case_id,
                              {"reason": str(exc), "request": _request_details(request)}, ip)
            raise
        details = {**_request_details(request),
                   "gaps": {p.camera_id: len(p.gaps) for p in plans if p.gaps}}
        if self.records is not None:
            self.records.create(request.requester, request.case_id, request.reason, details,
                                export_id=export_id)
        self.audit.record(request.requester, role, "export.create", export_id, details, ip)
        future = self._pool.submit(self._run, export_id, request, role, ip)
        with self._lock:
            self._futures[export_id] = future
        return status.model_copy()

    def status(self, export_id: str) -> ExportStatus:
        """The current status; exports from earlier runs are found by their manifest."""
        directory = export_dir(self.exports_root, export_id)
        with self._lock:
            known = self._status.get(directory.name)
            if known is not None:
                return known.model_copy()
        if (directory / MANIFEST_NAME).is_file():
            manifest, digest = read_manifest(directory)
            request = manifest.request
            return ExportStatus(
                id=directory.name, state=ExportState.DONE, progress=1.0, phase="done",
                case_id=request.case_id, requester=request.requester,
                camera_ids=request.camera_ids, start=request.start, end=request.end,
                created_at=manifest.created_at, finished_at=manifest.created_at,
                directory=str(directory), manifest_sha256=digest,
                download=_download(directory, manifest.export_id,
                                   [c.working_copy.path for c in manifest.cameras
                                    if c.working_copy is not None]))
        raise ExportNotFoundError(f"no export {export_id!r}")

    def list(self) -> list[ExportStatus]:
        """Exports known to this process, newest first."""
        with self._lock:
            items = [s.model_copy() for s in self._status.values()]
        return sorted(items, key=lambda s: s.created_at, reverse=True)

    def wait(self, export_id: str, timeout: float | None = None) -> ExportStatus:
        """Block until the export finishes (or ``timeout``), then return its status."""
        with self._lock:
            future = self._futures.get(export_dir(self.exports_root, export_id).name)
        if future is not None:
            with contextlib.suppress(CancelledError, TimeoutError):
                future.exception(timeout=timeout)
        return self.status(export_id)

    def stop(self) -> None:
        """Cancel running exports, refuse new ones, and wait for the workers to end."""
        self._stop.set()
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            never_started = [i for i, s in self._status.items() if s.state is ExportState.QUEUED]
        for export_id in never_started:
            request, role, ip = self._asked[export_id]
            self._finish_failed(export_id, request, role, ip, "cancelled at shutdown")

    close = stop

    def _update(self, export_id: str, **changes: Any) -> None:
        with self._lock:
            status = self._status[export_id]
            before = int(status.progress * 100)
            for key, value in changes.items():
                setattr(status, key, value)
            after = int(status.progress * 100)
        if self.records is not None and (after // 5 != before // 5 or "state" in changes):
            try:
                self.records.update(export_id, progress=after,
                                    status=str(changes["state"]) if "state" in changes else None)
            except Exception:  # the record is advisory; the export itself goes on
                log.exception("could not update the export record %s", export_id)

    def _run(self, export_id: str, request: ExportRequest, role: str, ip: str | None) -> None:
        directory = export_dir(self.exports_root, export_id)
        self._update(export_id, state=ExportState.RUNNING, phase="starting")
        try:
            result = self.exporter.run(
                export_id, request, directory, role=role, stop=self._stop,
                progress=lambda f, p: self._update(export_id, progress=round(f, 4), phase=p))
        except Exception as exc:
            log.exception("export %s failed", export_id)
            shutil.rmtree(directory, ignore_errors=True)
            self._finish_failed(export_id, request, role, ip, f"{type(exc).__name__}: {exc}")
            return
        self._finish_done(export_id, request, role, ip, result)

    def _finish_done(self, export_id: str, request: ExportRequest, role: str,
                     ip: str | None, result: ExportResult) -> None:
        download = str(result.download) if result.download else None
        self._update(export_id, state=ExportState.DONE, progress=1.0, phase="done",
                     finished_at=utcnow(), manifest_sha256=result.manifest_sha256,
                     download=download, download_sha256=result.download_sha256)
        if self.records is not None:
            self.records.update(export_id, status="done", progress=100,
                                manifest_path=str(result.directory / MANIFEST_NAME))
        self.audit.record(request.requester, role, "export.done", export_id, {
            "case_id": request.case_id,
            "manifest_sha256": result.manifest_sha256,
            "signing_key_id": result.manifest.signing.key_id if result.manifest.signing
            else None,
            "download_sha256": result.download_sha256,
            "files": {f.path: f.sha256 for f in result.manifest.files()},
            "gaps": sum(len(c.gaps) for c in result.manifest.cameras),
        }, ip)

    def _finish_failed(self, export_id: str, request: ExportRequest, role: str,
                       ip: str | None, error: str) -> None:
        self._update(export_id, state=ExportState.FAILED, phase="failed",
                     finished_at=utcnow(), error=error[:2000])
        if self.records is not None:
            try:
                self.records.update(export_id, status="failed", error=error[:2000])
            except Exception:
                log.exception("could not update the export record %s", export_id)
        self.audit.record(request.requester, role, "export.failed", export_id,
                          {"case_id": request.case_id, "error": error[:2000]}, ip)


def _request_details(request: ExportRequest) -> dict[str, Any]:
    return {
        "camera_ids": list(request.camera_ids),
        "start": to_rfc3339(request.start),
        "end": to_rfc3339(request.end),
        "case_id": request.case_id,
        "reason": request.reason,
        "place": request.place.model_dump(exclude_none=True) if request.place else None,
    }


def _download(directory: Path, export_id: str, working: list[str]) -> str | None:
    archive = directory / f"{export_id}.zip"
    if archive.is_file():
        return str(archive)
    return str(directory / working[0]) if len(working) == 1 else None
