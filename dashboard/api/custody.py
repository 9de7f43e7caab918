"""The chain of custody of a case (investigator, admin): JSON, a printable page, or PDF.
Each report made is itself audited (``custody.report``)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from dashboard.deps import InvestigatorDep, StateDep, client_ip
from evidence.custody import CaseNotFoundError, CustodyReport, build_report, record_report
from evidence.custody_html import PdfUnavailableError, render_html, render_pdf

router = APIRouter(prefix="/api/custody", tags=["custody"])

CaseId = Annotated[str, Query(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$",
                              description="the case id given with its exports and holds")]


def _report(state: Any, case_id: str, actor: str) -> CustodyReport:
    try:
        return build_report(state.store, case_id, generated_by=actor)
    except CaseNotFoundError as exc:
        raise HTTPException(404, detail=str(exc)) from None


@router.get("", summary="Every search, playback, view, export, download and verify of a case")
async def custody(state: StateDep, caller: InvestigatorDep, request: Request,
                  case_id: CaseId) -> dict[str, Any]:
    report = await run_in_threadpool(_report, state, case_id, caller.name)
    await run_in_threadpool(lambda: record_report(
        state.store, report, actor=caller.name, role=caller.role.value, ip=client_ip(request),
        output="json"))
    return report.model_dump(mode="json")


@router.get("/report", summary="The custody report as a printable page or PDF",
            response_class=HTMLResponse,
            responses={200: {"content": {"text/html": {}, "application/pdf": {}}}})
async def printable(state: StateDep, caller: InvestigatorDep, request: Request,
                    case_id: CaseId,
                    format: Annotated[Literal["html", "pdf"], Query()] = "html") -> Response:
    report = await run_in_threadpool(_report, state, case_id, caller.name)
    page = render_html(report)
    headers = {"Cache-Control": "no-store",
               # the page has no script and loads nothing: the strictest policy fits
               "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'"}
    body: bytes | str = page
    media = "text/html; charset=utf-8"
    if format == "pdf":
        try:
            body = await run_in_threadpool(render_pdf, page)
        except PdfUnavailableError as exc:
            raise HTTPException(503, detail=str(exc)) from None
        media = "application/pdf"
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", case_id).strip("._")[:64] or "case"
        headers["Content-Disposition"] = f'attachment; filename="custody-{name}.pdf"'
    await run_in_threadpool(lambda: record_report(
        state.store, report, actor=caller.name, role=caller.role.value, ip=client_ip(request),
        output=format))
    return Response(body, media_type=media, headers=headers)
