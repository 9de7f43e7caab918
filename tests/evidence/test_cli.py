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


@pytest.mark.parametrize(("camera", "start", "end", "message"), [
    ("cam-ghost", "2026-11-03T21:40:00Z", "2026-11-03T21:40:30Z", "unknown camera 'cam-ghost'"),
    ("../etc", "2026-11-03T21:40:00Z", "2026-11-03T21:40:30Z", "invalid camera id"),
    ("/etc/passwd", "2026-11-03T21:40:00Z", "2026-11-03T21:40:30Z", "invalid camera id"),
    ("cam-door", "2026-11-03T21:40:00Z", "2026-11-04T21:40:00Z", "over the limit of 6 h"),
    ("cam-door", "2026-11-03T21:40:00", "2026-11-03T21:40:30Z", "no UTC offset"),
])
def test_create_refuses_bad_requests(site_file: Path, env: Path, camera: str, start: str,
                                     end: str, message: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["export", "create", "--site", str(site_file), "--camera", camera, "--start",
                 start, "--end", end, "--case-id", "C-1", "--reason", "r"])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not (env / "exports").exists() or not any((env / "exports").iterdir())
