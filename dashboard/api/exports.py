"""Evidence exports: start one (refused with 422 when nothing was recorded in the window;
the gaps of a partly covered one in the answer at once), follow it, read its manifest,
download it, verify it (signature and hashes; audited as ``export.verify``)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from compoundeye.timeutil import UtcTimestamp
from dashboard.audit import record_audit
from dashboard.deps import InvestigatorDep, StateDep, client_ip
from dashboard.state import AppState
from dashboard.validation import check_window
from evidence import (
    ExportNotFoundError,
    ExportRefusedError,
    ExportRequest,
    ExportState,
    ExportStatus,
    NothingRecordedError,
    Place,
    VerifyReport,
    export_dir,
    read_manifest,
    verify_details,
    verify_export,
)
from evidence.exporter import sha256_file

router = APIRouter(prefix="/api/exports", tags=["exports"])

ExportId = Annotated[str, PathParam(pattern=r"^[0-9a-fA-F-]{32,36}$", description="export id")]


class ExportBody(BaseModel):
    """An export request as the API takes it (the requester is the caller)."""

    model_config = ConfigDict(extra="forbid")
    camera_ids: list[str] = Field(min_length=1, max_length=4096)
    start: UtcTimestamp
    end: UtcTimestamp
    case_id: str = Field(min_length=1, max_length=128)
    reason: str = Field(min_length=1, max_length=4000)
    place: Place | None = None


def _status(state: AppState, export_id: str) -> ExportStatus:
    try:
        return state.exports.status(export_id)
    except ExportNotFoundError:
        raise HTTPException(404, detail=f"no export {export_id}") from None


def _view(state: AppState, status: ExportStatus) -> dict[str, Any]:
    out: dict[str, Any] = status.model_dump(mode="json", exclude={"directory", "download"})
    out["download_url"] = (f"/api/exports/{status.id}/download"
                           if status.state is ExportState.DONE and status.download else None)
    out["manifest"] = None
    if status.state is ExportState.DONE:
        try:
            manifest, _digest = read_manifest(export_dir(state.settings.exports_dir, status.id))
            out["manifest"] = manifest.model_dump(mode="json")
        except (OSError, ValueError) as exc:
            out["manifest_error"] = f"manifest unreadable: {exc}"
    return out


@router.post("", status_code=202, summary="Start an export; returns its id and status")
async def create_export(state: StateDep, caller: InvestigatorDep, request: Request,
                        body: ExportBody) -> dict[str, Any]:
    check_window(body.start, body.end, max_days=2)
    try:
        export_request = ExportRequest(requester=caller.name, **body.model_dump())
    except ValidationError as exc:
        reasons = "; ".join(e["msg"] for e in exc.errors(include_url=False))
        raise HTTPException(400, detail=f"export request: {reasons}") from None
    try:
        status = await run_in_threadpool(state.exports.submit, export_request,
                                         role=caller.role.value, ip=client_ip(request))
    except NothingRecordedError as exc:
        raise HTTPException(422, detail=str(exc)) from None
    except ExportRefusedError as exc:
        raise HTTPException(400, detail=str(exc)) from None
    return _view(state, status)


@router.get("", summary="Exports started since the dashboard started, newest first")
async def list_exports(state: StateDep, _caller: InvestigatorDep) -> list[dict[str, Any]]:
    return [s.model_dump(mode="json", exclude={"directory", "download"})
            for s in state.exports.list()]


@router.get("/{export_id}", summary="An export's status, progress and (when done) manifest")
async def get_export(state: StateDep, _caller: InvestigatorDep,
                     export_id: ExportId) -> dict[str, Any]:
    status = await run_in_threadpool(_status, state, export_id)
    return await run_in_threadpool(_view, state, status)


@router.get("/{export_id}/download", summary="The MP4 (one camera) or zip (several)",
            response_class=FileResponse,
            responses={200: {"content": {"video/mp4": {}, "application/zip": {}}}})
async def download(state: StateDep, caller: InvestigatorDep, request: Request,
                   export_id: ExportId) -> FileResponse:
    status = await run_in_threadpool(_status, state, export_id)
    if status.state is not ExportState.DONE or not status.download:
        raise HTTPException(409, detail=f"export is {status.state.value}, not ready")
    path = Path(status.download).resolve()
    root = state.settings.exports_dir.resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise HTTPException(404, detail="export file not found")
    digest = status.download_sha256 or (await run_in_threadpool(sha256_file, path))[1]
    await run_in_threadpool(record_audit, state, caller.name, caller.role.value,
                            "export.download", status.id,
                            {"case_id": status.case_id, "file": path.name, "sha256": digest,
                             "manifest_sha256": status.manifest_sha256}, client_ip(request))
    media = "application/zip" if path.suffix == ".zip" else "video/mp4"
    case = re.sub(r"[^A-Za-z0-9_.-]+", "_", status.case_id).strip("._")[:64]
    return FileResponse(path, media_type=media,
                        filename=f"{case}-{path.name}" if case else path.name)


def _verify(state: AppState, status: ExportStatus) -> VerifyReport:
    directory = export_dir(state.settings.exports_dir, status.id)
    return verify_export(directory, status.manifest_sha256, keyring=state.exports.keyring)


@router.post("/{export_id}/verify", summary="Check an export's signature and every hash")
async def verify(state: StateDep, caller: InvestigatorDep, request: Request,
                 export_id: ExportId) -> dict[str, Any]:
    status = await run_in_threadpool(_status, state, export_id)
    if status.state is not ExportState.DONE:
        raise HTTPException(409, detail=f"export is {status.state.value}, not finished")
    report = await run_in_threadpool(_verify, state, status)
    await run_in_threadpool(record_audit, state, caller.name, caller.role.value,
                            "export.verify", status.id, verify_details(report),
                            client_ip(request))
    out: dict[str, Any] = report.model_dump(mode="json", exclude={"directory"})
    return out
