"""Request validation and export-id resolution: nothing a caller sends leaves the data dir."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from evidence.export_models import ExportNotFoundError, ExportRequest, export_dir, new_export_id
from tests.evidence.conftest import T0


def _request(**changes: object) -> ExportRequest:
    data: dict[str, object] = {"camera_ids": ["cam-door"], "start": T0,
                               "end": T0 + timedelta(seconds=30), "case_id": "C-1",
                               "reason": "why", "requester": "me"}
    data.update(changes)
    return ExportRequest.model_validate(data)


@pytest.mark.parametrize("bad", ["../etc", "/etc/passwd", "..", ".", "cam\x00door", "a/b",
                                 "", "x" * 65, "cam door"])
def test_bad_camera_ids_are_refused(bad: str) -> None:
    with pytest.raises(ValidationError, match="camera"):
        _request(camera_ids=["cam-door", bad])


def test_duplicates_are_folded_in_order() -> None:
    assert _request(camera_ids=["b", "a", "b"]).camera_ids == ["b", "a"]


@pytest.mark.parametrize("changes", [
    {"start": datetime(2026, 11, 3, 21, 40)},                 # naive
    {"end": T0},                                              # empty window
    {"end": T0 - timedelta(seconds=1)},                       # inverted
    {"case_id": ""}, {"case_id": "   "}, {"case_id": "a\nb"}, {"case_id": "a\x00b"},
    {"reason": "bell\x07"}, {"requester": ""}, {"camera_ids": []},
    {"unexpected": 1},
])
def test_bad_requests_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        _request(**changes)


def test_export_ids_are_hex_only(tmp_path: Path) -> None:
    good = new_export_id()
    assert export_dir(tmp_path, good) == tmp_path / good
    dashed = f"{good[:8]}-{good[8:12]}-{good[12:16]}-{good[16:20]}-{good[20:]}"
    assert export_dir(tmp_path, dashed) == tmp_path / good
    for bad in ["../etc", "..", "/etc", good[:-1], good + "0", good.upper(), good[:-1] + "\x00",
                "", "../" + good[3:], good[:-1] + "/"]:
        with pytest.raises(ExportNotFoundError):
            export_dir(tmp_path, bad)


def test_times_are_kept_in_utc() -> None:
    from datetime import timezone

    local = T0.astimezone(timezone(timedelta(hours=8)))
    request = _request(start=local, end=local + timedelta(seconds=30))
    assert request.start == T0 and request.start.utcoffset() == timedelta(0)
