"""The custody report as a printable HTML page (one file, its style inline, nothing
loaded from anywhere), and as PDF printed by headless Chromium (Debian's ``chromium``,
``--print-to-pdf``): the browser the tests already use, so no PDF library is added."""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from compoundeye.timeutil import to_rfc3339
from evidence.custody import CustodyEvent, CustodyReport

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
PDF_TIMEOUT_SECONDS = 60.0

STYLE = """
body { font: 10pt/1.35 "DejaVu Sans", Arial, sans-serif; color: #111; margin: 18mm 14mm; }
h1 { font-size: 16pt; margin: 0 0 4pt; } h2 { font-size: 12pt; margin: 14pt 0 4pt; }
table { border-collapse: collapse; width: 100%; margin-top: 4pt; }
th, td { border: 0.5pt solid #888; padding: 2pt 4pt; vertical-align: top; text-align: left; }
th { background: #eee; } tr { page-break-inside: avoid; }
.mono { font-family: "DejaVu Sans Mono", monospace; font-size: 8pt; word-break: break-all; }
.muted { color: #555; } .bad { color: #a00; font-weight: bold; } .ok { color: #060; }
@page { size: A4 landscape; margin: 12mm; }
"""


def _t(value: datetime | None) -> str:
    return html.escape(to_rfc3339(value)) if value is not None else "—"


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _hashes(event: CustodyEvent) -> str:
    return "<br>".join(f"{_e(name)}: {_e(digest)}" for name, digest in event.hashes.items())


def _hold_row(hold: dict[str, Any]) -> str:
    state = ("active" if hold["active"] else
             f"released by {_e(hold['released_by'])} {_e(hold['released_at'])}: "
             f"{_e(hold['release_reason'])}")
    return (f"<tr><td class=mono>{_e(hold['id'])}</td>"
            f"<td>{_e(', '.join(hold['camera_ids']))}</td>"
            f"<td>{_e(hold['start'])}<br>{_e(hold['end'])}</td>"
            f"<td>{_e(hold['placed_by'])} {_e(hold['placed_at'])}</td>"
            f"<td>{_e(hold['reason'])}</td><td>{state}</td></tr>")


def render_html(report: CustodyReport) -> str:
    """The report as one self-contained HTML document."""
    chain = report.audit_chain
    chain_text = (f'<span class="ok">intact</span> ({chain.rows} rows)' if chain.ok else
                  f'<span class="bad">BROKEN at row {chain.broken_id}: {_e(chain.problem)}</span>')
    rows = []
    for ev in report.events:
        window = (f"{_t(ev.window_start)}<br>{_t(ev.window_end)}"
                  if ev.window_start or ev.window_end else "—")
        rows.append(
            f"<tr><td>{_t(ev.at)}</td><td>{_e(ev.actor)}<br><span class=muted>{_e(ev.role)}"
            f"</span></td><td>{_e(ev.ip) or '—'}</td><td>{_e(ev.kind)}<br>"
            f"<span class=muted>{_e(ev.action)}</span></td><td>{_e(ev.target)}</td>"
            f"<td>{_e(', '.join(ev.cameras[:20]))}</td><td>{window}</td>"
            f"<td class=mono>{_hashes(ev)}</td><td>{_e(ev.why)}</td>"
            f"<td class=mono>{ev.audit_id}</td></tr>")
    exports = "".join(
        f"<tr><td class=mono>{_e(x.id)}</td><td>{_e(x.requester)}</td><td>{_e(x.status)}</td>"
        f"<td>{_t(x.created_at)}</td><td>{_e(', '.join(x.camera_ids))}</td>"
        f"<td>{_t(x.start)}<br>{_t(x.end)}</td><td class=mono>{_e(x.manifest_sha256)}</td>"
        f"<td class=mono>{_e(x.signing_key_id)}</td></tr>" for x in report.exports)
    holds = "".join(_hold_row(h) for h in report.holds)
    anchor = f"{_e(chain.head_id)}:{_e(chain.head_hash)}"
    truncated = ('<p class="bad">The audit trail had more rows than one report reads; '
                 'the oldest are not shown.</p>' if report.truncated else "")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Custody report: case {_e(report.case_id)}</title><style>{STYLE}</style></head>
<body>
<h1>Chain of custody: case {_e(report.case_id)}</h1>
<p class="muted">Made {_t(report.generated_at)} by {_e(report.generated_by)}.
Times are UTC. Every row below is a row of the site's audit trail (its id is in the last
column); the trail is a hash chain, checked when this report was made: {chain_text}.
Head row {_e(chain.head_id)}, hash <span class="mono">{_e(chain.head_hash)}</span>
(write it down: <code>compoundeye audit verify --anchor {anchor}</code> later shows
whether anything up to it was changed since).</p>
<p>Cameras of the case: {_e(', '.join(report.cameras)) or '—'}</p>
<h2>Exports</h2>
<table><tr><th>Export</th><th>Requester</th><th>Status</th><th>Made</th><th>Cameras</th>
<th>Window</th><th>Manifest SHA-256</th><th>Signing key</th></tr>{exports}</table>
<h2>Legal holds</h2>
<table><tr><th>Hold</th><th>Cameras</th><th>Window</th><th>Placed</th><th>Reason</th>
<th>State</th></tr>{holds}</table>
<h2>Every search, playback, view, export, download and verification
({len(report.events)})</h2>{truncated}
<table><tr><th>When</th><th>Who</th><th>From</th><th>What</th><th>Target</th><th>Cameras</th>
<th>Window</th><th>Hashes</th><th>Why listed</th><th>Audit row</th></tr>{''.join(rows)}</table>
</body></html>
"""


def find_chromium() -> str | None:
    """The headless browser used to print PDF, if one is installed."""
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


class PdfUnavailableError(RuntimeError):
    """No browser to print with, or it failed."""


def render_pdf(document: str, *, chromium: str | None = None,
               timeout: float = PDF_TIMEOUT_SECONDS) -> bytes:
    """Print the HTML document to PDF with headless Chromium."""
    browser = chromium or find_chromium()
    if browser is None:
        raise PdfUnavailableError("no Chromium installed to print the report to PDF")
    with tempfile.TemporaryDirectory(prefix="ce-custody-") as work:
        page = Path(work) / "report.html"
        out = Path(work) / "report.pdf"
        page.write_text(document, encoding="utf-8")
        cmd = [browser, "--headless", "--disable-gpu", "--no-pdf-header-footer",
               f"--user-data-dir={work}/profile", f"--print-to-pdf={out}", page.as_uri()]
        if os.geteuid() == 0:
            cmd.insert(1, "--no-sandbox")  # Chromium refuses to sandbox as root
        try:
            proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PdfUnavailableError(f"Chromium could not print the report: {exc}") from exc
        if proc.returncode != 0 or not out.is_file():
            tail = proc.stderr.decode("utf-8", "replace")[-300:]
            raise PdfUnavailableError(f"Chromium could not print the report (exit "
                                      f"{proc.returncode}): {tail}")
        return out.read_bytes()
