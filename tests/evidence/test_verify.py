"""Verify: an untouched export passes; one changed byte, a missing file or an edited
manifest fails, and says which file."""

from __future__ import annotations

import argparse
import json
import subprocess
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest

from compoundeye.site.models import Site
from evidence import cli
from evidence.export_models import ExportRequest, new_export_id
from evidence.exporter import Exporter, ExportResult
from evidence.manifest import MANIFEST_NAME, SIGNATURE_NAME
from evidence.signing import Keyring
from evidence.verify import FileStatus, SignatureStatus, verify_export
from tests.evidence.conftest import T0


@pytest.fixture
def exported(export_site: Site, data_dir: Path) -> ExportResult:
    request = ExportRequest(camera_ids=["cam-door", "cam-near"], start=T0 + timedelta(seconds=3),
                            end=T0 + timedelta(seconds=27), case_id="C-9", reason="test",
                            requester="tester")
    export_id = new_export_id()
    return Exporter(export_site, data_dir / "recordings", keyring=Keyring(data_dir / "keys")).run(
        export_id, request, data_dir / "exports" / export_id)


def _flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_untouched_export_is_intact(exported: ExportResult) -> None:
    report = verify_export(exported.directory, exported.manifest_sha256)
    assert report.ok, report
    # 2 cameras x (master, working copy) + 3 tools, and in the zip: the manifest, its
    # signature, the 3 tools and the 4 camera files
    assert len(report.files) == 4 + 3 + 9
    assert report.signature is not None and report.signature.status == "valid"
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
    assert len(report.files) == 1 + 3 + 4  # the manifest, the tools, the camera files
    assert report.signature is not None and report.signature.status == "valid"
    _flip(handed_over, handed_over.stat().st_size // 3)
    tampered = verify_export(handed_over)
    assert not tampered.ok
    assert [f.status for f in tampered.files].count(FileStatus.MISMATCH) == 1
    assert not verify_export(tmp_path / "missing.zip").ok


def _flip_in_manifest(directory: Path, needle: bytes) -> None:
    """Change one byte of manifest.json inside ``needle`` (the JSON stays valid)."""
    path = directory / MANIFEST_NAME
    data = bytearray(path.read_bytes())
    at = data.index(needle) + len(needle) - 2
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_signature_is_valid_and_the_key_is_the_sites(exported: ExportResult,
                                                     data_dir: Path) -> None:
    report = verify_export(exported.directory, keyring=Keyring(data_dir / "keys"))
    assert report.ok, report
    assert report.signature is not None
    assert report.signature.status is SignatureStatus.VALID and report.signature.site_key
    assert exported.manifest.signing is not None
    assert report.signature.key_id == exported.manifest.signing.key_id


def test_one_byte_of_the_manifest_breaks_the_signature(exported: ExportResult) -> None:
    _flip_in_manifest(exported.directory, b'"reason": "test"')
    report = verify_export(exported.directory)  # no recorded hash given: the signature alone
    assert not report.ok
    assert report.signature is not None and report.signature.status is SignatureStatus.INVALID
    assert "changed" in (report.signature.detail or "")
    assert all(f.status is FileStatus.OK for f in report.files
               if not f.path.endswith(".zip:" + MANIFEST_NAME))


def test_a_missing_signature_fails(exported: ExportResult) -> None:
    (exported.directory / SIGNATURE_NAME).unlink()
    report = verify_export(exported.directory)
    assert not report.ok
    assert report.signature is not None and report.signature.status is SignatureStatus.MISSING


SYSTEM_PYTHON = Path("/usr/bin/python3")


def _examiner(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the export's own verify.py as an examiner would: the system Python, isolated
    (-I: no environment, no user site) and without site-packages (-S), from elsewhere."""
    return subprocess.run([str(SYSTEM_PYTHON), "-I", "-S", str(directory / "verify.py"),
                           *args], capture_output=True, text=True, timeout=120,
                          cwd="/", env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})


@pytest.fixture
def unzipped(exported: ExportResult, tmp_path: Path) -> Path:
    """The downloaded zip, unzipped somewhere else, as a court's examiner gets it."""
    assert exported.download is not None
    target = tmp_path / "handed-over"
    with zipfile.ZipFile(exported.download) as archive:
        archive.extractall(target)
    return target


@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no system python3")
def test_the_shipped_verifier_passes_untouched_and_fails_on_a_flipped_byte(
        exported: ExportResult, unzipped: Path, data_dir: Path) -> None:
    site_print = Keyring(data_dir / "keys").current().info.fingerprint
    intact = _examiner(unzipped)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert intact.stdout.strip().endswith("INTACT")
    assert f"signature of {MANIFEST_NAME} by key {site_print[:16]}" in intact.stdout
    assert _examiner(unzipped, "--fingerprint", site_print).returncode == 0
    wrong = _examiner(unzipped, "--fingerprint", "ab" * 32)
    assert wrong.returncode == 1 and "UNTRUSTED" in wrong.stdout
    camera = exported.manifest.cameras[0]
    assert camera.master is not None
    _flip(unzipped / camera.master.path, camera.segments[0].size + 500)
    broken = _examiner(unzipped)
    assert broken.returncode == 1
    assert f"MISMATCH  {camera.master.path}" in broken.stdout
    assert camera.segments[1].path in broken.stdout  # names the segment the byte is in
    assert broken.stdout.strip().endswith("NOT INTACT: 1 problem(s)")


@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no system python3")
def test_the_shipped_verifier_catches_the_working_copy_and_the_manifest(
        exported: ExportResult, unzipped: Path) -> None:
    copy = exported.manifest.cameras[1].working_copy
    assert copy is not None
    _flip(unzipped / copy.path, 4000)
    result = _examiner(unzipped)
    assert result.returncode == 1 and f"MISMATCH  {copy.path}" in result.stdout
    _flip(unzipped / copy.path, 4000)  # back as it was
    assert _examiner(unzipped).returncode == 0
    _flip_in_manifest(unzipped, b'"case_id": "C-9"')
    forged = _examiner(unzipped)
    assert forged.returncode == 1 and "INVALID" in forged.stdout


@pytest.mark.skipif(not SYSTEM_PYTHON.exists(), reason="no system python3")
def test_the_shipped_verifier_reads_the_zip_and_the_export_directory(
        exported: ExportResult) -> None:
    assert exported.download is not None
    for target in (exported.directory, exported.download):
        result = subprocess.run([str(SYSTEM_PYTHON), "-I", "-S",
                                 str(exported.directory / "verify.py"), str(target)],
                                capture_output=True, text=True, timeout=120, cwd="/")
        assert result.returncode == 0, result.stdout
    missing = subprocess.run([str(SYSTEM_PYTHON), "-I", "-S",
                              str(exported.directory / "verify.py"), "/nonexistent"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 2
