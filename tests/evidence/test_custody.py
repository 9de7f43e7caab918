"""The custody report's scope: what names the case or touched its cameras over its
windows is listed, with why; what did not is left out; the page escapes what it shows."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from compoundeye.store import Store
from evidence.custody import CaseNotFoundError, build_report
from evidence.custody_html import render_html

T0 = datetime(2026, 11, 3, 21, 40, tzinfo=UTC)


def _iso(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(f"sqlite:///{tmp_path / 'store.db'}")
    yield opened
    opened.close()


def test_scope_by_case_cameras_and_windows(store: Store) -> None:
    record = store.exports.create("inv-1", "CASE-1", "why", {
        "camera_ids": ["cam-1"], "start": _iso(0), "end": _iso(10), "case_id": "CASE-1"})
    later = T0 + timedelta(hours=2)

    def row(action: str, target: str, details: dict[str, object], actor: str = "someone",
            minutes: float = 120) -> None:
        store.audit.record(actor, "investigator", action, target, details, "10.0.0.7",
                           at=T0 + timedelta(minutes=minutes))

    row("recordings.search", "building B1", {"start": _iso(-5), "end": _iso(5),
                                             "cameras": ["cam-1", "cam-2"]}, minutes=60)
    row("recordings.search", "building B2", {"start": _iso(-5), "end": _iso(5),
                                             "cameras": ["cam-2"]})  # other camera: out
    row("recordings.search", "building B1", {"start": _iso(30), "end": _iso(40),
                                             "cameras": ["cam-1"]})  # other time: out
    row("playback.end", "cam-1", {"cameras": ["cam-1"], "window_start": _iso(8),
                                  "window_end": _iso(20)})
    row("live.end", "cam-1", {"start": _iso(-30), "end": _iso(30)}, minutes=30)  # watched live
    row("live.start", "cam-1", {}, minutes=-30)  # before the window: read only from its start
    row("recordings.clip", "cam-1", {"camera": "cam-1", "start": _iso(1), "end": _iso(2),
                                     "clip_sha256": "c" * 64})
    row("export.done", record.id, {"case_id": "CASE-1", "manifest_sha256": "a" * 64,
                                   "files": {"cam-1/x.mp4": "b" * 64}})
    row("export.done", "f" * 32, {"case_id": "OTHER", "manifest_sha256": "d" * 64})
    row("alert.ack", "alert-1", {"note": "x"})  # not a custody action
    row("recordings.search", "cameras cam-9", {"start": _iso(500), "end": _iso(501),
                                               "cameras": ["cam-9"], "case_id": "CASE-1"},
        actor="<script>alert(1)</script>")  # names the case itself
    store.holds.place(case_id="CASE-1", reason="court", camera_ids=["cam-3"], start=later,
                      end=later + timedelta(minutes=5), actor="inv-1", role="investigator")
    report = build_report(store, "CASE-1", generated_by="tester")
    listed = [(e.action, e.target) for e in report.events]
    assert listed == [
        ("live.end", "cam-1"), ("recordings.search", "building B1"),
        ("playback.end", "cam-1"), ("recordings.clip", "cam-1"), ("export.done", record.id),
        ("recordings.search", "cameras cam-9"),
        ("hold.place", store.holds.list()[0].id)], listed  # placed now, the others back then
    by = {e.action: e for e in report.events}
    assert by["export.done"].hashes == {"manifest_sha256": "a" * 64, "cam-1/x.mp4": "b" * 64}
    assert by["recordings.clip"].hashes == {"clip_sha256": "c" * 64}
    assert by["live.end"].why == "cam-1 in the case's window" and by["live.end"].ip == "10.0.0.7"
    assert report.events[-2].why == "names the case"
    assert report.events[-1].why.startswith("legal hold")
    assert report.cameras == ["cam-1", "cam-3"]
    assert report.audit_chain.ok and report.audit_chain.rows == 12
    page = render_html(report)
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert report.audit_chain.head_hash is not None and report.audit_chain.head_hash in page


def test_an_unknown_case_is_said_so(store: Store) -> None:
    with pytest.raises(CaseNotFoundError):
        build_report(store, "NOPE", generated_by="tester")
    store.audit.record("inv-1", "investigator", "export.refused", "REFUSED-1",
                       {"reason": "nothing was recorded there"})
    report = build_report(store, "REFUSED-1", generated_by="tester")
    assert [e.action for e in report.events] == ["export.refused"]
