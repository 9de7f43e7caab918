"""``compoundeye export create|verify|search`` end to end, audited in the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from compoundeye.cli import main
from compoundeye.store import Store
from tests.evidence.conftest import EXPORT_SITE


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(EXPORT_SITE))
    return path


@pytest.fixture
def env(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("CE_DATABASE_URL", raising=False)
    return data_dir


def _store(data_dir: Path) -> Store:
    return Store(f"sqlite:///{data_dir / 'compoundeye.db'}")


def test_search_lists_cameras_and_gaps_and_is_audited(
        site_file: Path, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "search", "--site", str(site_file), "--start", "2026-11-03T21:39:30Z",
                 "--end", "2026-11-03T21:40:30Z", "--door", "door-east", "--radius-m", "50"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert out.startswith("4 camera(s), door door-east")
    assert "gap 2026-11-03T21:39:30.000Z .. 2026-11-03T21:40:00.000Z  no recording" in out
    store = _store(env)
    try:
        (entry,) = store.audit.list(action="recordings.search")
        assert entry.role == "cli"
        assert sorted(entry.details["cameras"]) == ["cam-door", "cam-edge", "cam-near", "cam-sees"]
    finally:
        store.close()


@pytest.mark.timeout(120)
def test_create_then_verify_against_the_audit_record(
        site_file: Path, env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "create", "--site", str(site_file), "--camera", "cam-door",
                 "--camera", "cam-near", "--start", "2026-11-03T21:40:05Z",
                 "--end", "2026-11-03T21:40:35Z", "--case-id", "C-42", "--reason", "cli test",
                 "--requester", "det. lee"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = dict(line.split(None, 1) for line in out.strip().splitlines())
    directory = Path(lines["directory"])
    assert directory.parent == env / "exports"
    assert lines["download"].strip().endswith(".zip")
    store = _store(env)
    try:
        actions = sorted(e.action for e in store.audit.list(target=directory.name))
        assert actions == ["export.create", "export.done"]
        assert store.exports.get(directory.name).status == "done"
    finally:
        store.close()
    assert main(["export", "verify", str(directory)]) == 0
    out = capsys.readouterr().out
    assert "(matches the audit record)" in out and out.strip().endswith("INTACT")
    assert "SIGNATURE valid by key" in out and "one of the site's keys" in out
    # the zip handed out verifies by itself; a wrong recorded hash fails it
    archive = lines["download"].strip()
    assert main(["export", "verify", archive]) == 0
    capsys.readouterr()
    assert main(["export", "verify", archive, "--manifest-sha256", "0" * 64]) == 1
    assert "manifest SHA-256 differs" in capsys.readouterr().out
    # an edited manifest is caught by the hash in the audit trail
    manifest = directory / "manifest.json"
    document = json.loads(manifest.read_text())
    document["request"]["case_id"] = "C-43"
    manifest.write_text(json.dumps(document, indent=2))
    assert main(["export", "verify", str(directory)]) == 1
    out = capsys.readouterr().out
    assert "manifest SHA-256 differs" in out and out.strip().endswith("NOT INTACT")
    assert "SIGNATURE invalid" in out
    store = _store(env)
    try:
        verified = store.audit.list(action="export.verify", target=directory.name)
        assert [e.details["ok"] for e in verified] == [False, False, True, True]
        assert verified[0].details["signature"] == "invalid" and verified[0].role == "cli"
    finally:
        store.close()


@pytest.mark.timeout(120)
def test_keys_rotate_custody_and_audit_verify(site_file: Path, env: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "create", "--site", str(site_file), "--camera", "cam-door",
                 "--start", "2026-11-03T21:40:05Z", "--end", "2026-11-03T21:40:25Z",
                 "--case-id", "C-77", "--reason", "cli", "--requester", "det. wu"]) == 0
    directory = Path(dict(line.split(None, 1) for line in
                          capsys.readouterr().out.strip().splitlines())["directory"])
    assert main(["keys", "show"]) == 0
    (first,) = [line.split()[0] for line in capsys.readouterr().out.splitlines()
                if "current" in line]
    assert main(["keys", "rotate"]) == 0
    out = capsys.readouterr().out
    assert f"retired    {first}" in out
    assert main(["keys", "show"]) == 0
    listing = capsys.readouterr().out
    assert "current" in listing and f"{first}  retired" in listing
    assert main(["export", "verify", str(directory)]) == 0  # the old export, after rotation
    assert "retired" in capsys.readouterr().out
    report_file = tmp_path / "custody.json"
    assert main(["export", "custody", "--case-id", "C-77", "--output", str(report_file)]) == 0
    capsys.readouterr()
    report = json.loads(report_file.read_text())
    assert [e["action"] for e in report["events"]] == ["export.create", "export.done",
                                                       "export.verify"]
    assert main(["export", "custody", "--case-id", "nope"]) == 2
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("audit chain intact:")
    head_id, head_hash = out.split("head row ")[1].split(" hash ")
    anchor = f"{head_id}:{head_hash.strip()}"
    assert main(["audit", "verify", "--anchor", anchor]) == 0
    assert main(["audit", "verify", "--anchor", "x"]) == 2
    store = _store(env)
    try:
        assert store.audit.list(action="keys.rotate")[0].details["old_key_id"] == first
        with store.transaction() as conn:
            conn.exec_driver_sql("UPDATE audit SET actor = 'mallory' WHERE action = "
                                 "'export.create'")
        (edited,) = store.audit.list(action="export.create")
    finally:
        store.close()
    capsys.readouterr()
    assert main(["audit", "verify", "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert result["ok"] is False and result["broken_id"] == edited.id


@pytest.mark.parametrize(("camera", "start", "end", "message"), [
    ("cam-ghost", "2026-11-03T21:40:00Z", "2026-11-03T21:40:30Z", "unknown camera 'cam-ghost'"),
    ("../etc", "2026-11-03T21:40:00Z", "2026-11-03T21:40:30Z", "invalid camera id"),
    ("/etc/passwd", "2026-11-03T21:40:00Z", "2026-11-03T21:40:30Z", "invalid camera id"),
    ("cam-door", "2026-11-03T21:40:00Z", "2026-11-04T21:40:00Z", "over the limit of 6 h"),
    ("cam-door", "2026-11-03T21:40:00", "2026-11-03T21:40:30Z", "no UTC offset"),
    ("cam-door", "2026-11-03T23:00:00Z", "2026-11-03T23:05:00Z", "nothing was recorded there"),
])
def test_create_refuses_bad_requests(site_file: Path, env: Path, camera: str, start: str,
                                     end: str, message: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "create", "--site", str(site_file), "--camera", camera, "--start",
                 start, "--end", end, "--case-id", "C-1", "--reason", "r"])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (env / "exports").exists() or not any((env / "exports").iterdir())
