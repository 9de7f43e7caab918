"""Verify: an untouched export passes; one changed byte, a missing file or an edited
manifest fails, and says which file."""

from __future__ import annotations

import argparse
import json
from datetime import timedelta
from pathlib import Path

import pytest

from compoundeye.site.models import Site
from evidence import cli
from evidence.export_models import ExportRequest, new_export_id
from evidence.exporter import Exporter, ExportResult
from evidence.manifest import MANIFEST_NAME
from evidence.verify import FileStatus, verify_export
from tests.evidence.conftest import T0


@pytest.fixture
def exported(export_site: Site, data_dir: Path) -> ExportResult:
    request = ExportRequest(camera_ids=["cam-door", "cam-near"], start=T0 + timedelta(seconds=3),
                            end=T0 + timedelta(seconds=27), case_id="C-9", reason="test",
                            requester="tester")
    export_id = new_export_id()
    return Exporter(export_site, data_dir / "recordings").run(
        export_id, request, data_dir / "exports" / export_id)


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_untouched_export_is_intact(exported: ExportResult) -> None:
    report = verify_export(exported.directory, exported.manifest_sha256)
    assert report.ok, report
    # 2 cameras x (master, working copy) + the zip's manifest and 4 members
    assert len(report.files) == 4 + 5
    assert all(f.status is FileStatus.OK for f in report.files)
    assert report.manifest_sha256 == exported.manifest_sha256


def test_one_byte_of_the_master_fails_and_names_the_segment(exported: ExportResult) -> None:
    camera = exported.manifest.cameras[0]
    assert camera.master is not None
    second = camera.segments[1]
    _flip(exported.directory / camera.master.path, camera.segments[0].size + 1000)
    report = verify_export(exported.directory)
    assert not report.ok
    bad = [f for f in report.files if f.status is not FileStatus.OK]
    assert [f.path for f in bad] == [camera.master.path]
    assert bad[0].status is FileStatus.MISMATCH
    assert bad[0].detail is not None and second.path in bad[0].detail


def test_one_byte_of_the_working_copy_fails(exported: ExportResult) -> None:
    copy = exported.manifest.cameras[1].working_copy
    assert copy is not None
    path = exported.directory / copy.path
    _flip(path, path.stat().st_size // 2)
    report = verify_export(exported.directory)
    assert not report.ok
    assert [(f.path, f.status) for f in report.files if f.status is not FileStatus.OK] == [
        (copy.path, FileStatus.MISMATCH)]


def test_missing_file_and_tampered_zip(exported: ExportResult) -> None:
    copy = exported.manifest.cameras[0].working_copy
    assert copy is not None and exported.download is not None
    (exported.directory / copy.path).unlink()
    _flip(exported.download, exported.download.stat().st_size // 2)
    report = verify_export(exported.directory)
    statuses = {f.path: f.status for f in report.files}
    assert statuses[copy.path] is FileStatus.MISSING
    assert any(p.startswith(exported.download.name + ":") and s is FileStatus.MISMATCH
               for p, s in statuses.items())
    assert not report.ok


def test_manifest_edit_is_caught_by_the_recorded_hash(exported: ExportResult) -> None:
    path = exported.directory / MANIFEST_NAME
    document = json.loads(path.read_text())
    document["request"]["reason"] = "something else"
    path.write_text(json.dumps(document, indent=2))
    report = verify_export(exported.directory, exported.manifest_sha256)
    assert not report.ok
    assert any("manifest SHA-256 differs" in e for e in report.errors)


def test_paths_in_a_forged_manifest_stay_inside(exported: ExportResult) -> None:
    path = exported.directory / MANIFEST_NAME
    document = json.loads(path.read_text())
    document["cameras"][0]["master"]["path"] = "../../../etc/passwd"
    path.write_text(json.dumps(document))
    report = verify_export(exported.directory)
    assert not report.ok
    assert any("unsafe path" in e for e in report.errors)


def test_not_an_export(tmp_path: Path) -> None:
    report = verify_export(tmp_path)
    assert not report.ok and "missing" in report.errors[0]
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    assert "unreadable or altered" in verify_export(tmp_path).errors[0]


def test_cli_exit_codes(exported: ExportResult, capsys: pytest.CaptureFixture[str],
                        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CE_DATA_DIR", str(tmp_path / "no-store"))
    args = argparse.Namespace(directory=exported.directory)
    assert cli.verify(args) == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("INTACT") and "OK" in out
    camera = exported.manifest.cameras[0]
    assert camera.working_copy is not None
    _flip(exported.directory / camera.working_copy.path, 100)
    assert cli.verify(args) == 1
    out = capsys.readouterr().out
    assert f"MISMATCH  {camera.working_copy.path}" in out
    assert out.strip().endswith("NOT INTACT")


def test_the_downloaded_zip_verifies_on_its_own(exported: ExportResult, tmp_path: Path) -> None:
    assert exported.download is not None
    handed_over = tmp_path / "evidence.zip"
    handed_over.write_bytes(exported.download.read_bytes())
    report = verify_export(handed_over, exported.manifest_sha256)
    assert report.ok, report
    assert len(report.files) == 5
    _flip(handed_over, handed_over.stat().st_size // 3)
    tampered = verify_export(handed_over)
    assert not tampered.ok
    assert [f.status for f in tampered.files].count(FileStatus.MISMATCH) == 1
    assert not verify_export(tmp_path / "missing.zip").ok
