"""Finding "files are world-readable": real processes (the edge worker recording with
ffmpeg and saving snapshots, the evidence export, the token store, the SQLite store) leave
nothing that another user of the machine can read."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from compoundeye.services import ServiceSet
from tests.security.conftest import REPO, child_env

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _cli(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "compoundeye.cli", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def _open_to_others(root: Path) -> list[str]:
    """Every path under root (root too) with any group or other permission bit."""
    found = []
    for path in [root, *root.rglob("*")]:
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode):
            continue
        if mode & 0o077:
            found.append(f"{oct(stat.S_IMODE(mode))} {path.relative_to(root.parent)}")
    return found


def test_data_written_by_the_services_is_private(services: ServiceSet, rtsp_simulator_factory,
                                                 tmp_path: Path) -> None:
    sim = rtsp_simulator_factory({"cam-1": "people"})
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # as an older version left it
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump({
        "name": "files", "timezone": "UTC",
        "cameras": [{"id": "cam-1", "main_url": sim.url("cam-1", "main"),
                     "sub_url": sim.url("cam-1", "sub"),
                     "location": {"building": "B1", "lat": 22.3, "lon": 114.1}}],
        "edge": {"segment_seconds": 2}}))
    env = child_env(services, tmp_path, 6)
    env["CE_DATA_DIR"] = str(data)
    env["CE_TOKENS_FILE"] = str(data / "tokens.json")
    assert _cli(env, "token", "add", "desk-1", "--role", "operator").returncode == 0
    started = datetime.now(UTC)
    log = (tmp_path / "edge.log").open("wb")
    edge = subprocess.Popen([sys.executable, "-m", "compoundeye.cli", "edge", "--site",
                             str(site), "--no-doors"], env=env, cwd=REPO, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            segments = list((data / "recordings").rglob("*.ts"))
            snapshots = list((data / "snapshots").rglob("*.*"))
            if len(segments) >= 3 and snapshots:
                break
            assert edge.poll() is None, (tmp_path / "edge.log").read_text()[-2000:]
            time.sleep(0.5)
        else:
            pytest.fail("no segments and snapshot in 90 s: "
                        + (tmp_path / "edge.log").read_text()[-2000:])
    finally:
        edge.terminate()
        edge.wait(30)
        log.close()
    window_end = datetime.now(UTC) - timedelta(seconds=1)
    export = _cli(env, "export", "create", "--site", str(site), "--camera", "cam-1",
                  "--start", started.isoformat(), "--end", window_end.isoformat(),
                  "--case-id", "CASE-1", "--reason", "file modes")
    assert export.returncode == 0, export.stderr[-2000:]
    exported = [p for p in (data / "exports").rglob("*") if p.is_file()]
    db = [p for p in data.glob("compoundeye.db*")]
    assert exported and db, (sorted(p.name for p in data.rglob("*"))[:40])
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert _open_to_others(data) == []
    assert os.stat(data / "tokens.json").st_mode & 0o077 == 0


def test_a_data_group_gets_read_access_and_nothing_more(services: ServiceSet,
                                                        tmp_path: Path) -> None:
    import grp

    group = grp.getgrgid(os.getgid() if os.getgid() else 1).gr_name  # any real group
    data = tmp_path / "data"
    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump({"name": "group", "cameras": [
        {"id": "cam-1", "main_url": "rtsp://127.0.0.1:1/x",
         "location": {"building": "B1", "lat": 22.3, "lon": 114.1}}]}))
    env = {**child_env(services, tmp_path, 6), "CE_DATA_DIR": str(data),
           "CE_DATA_GROUP": group}
    now = datetime.now(UTC)
    out = _cli(env, "export", "search", "--site", str(site), "--camera", "cam-1", "--start",
               (now - timedelta(minutes=5)).isoformat(), "--end", now.isoformat())
    assert out.returncode == 0, out.stderr[-2000:]
    assert stat.S_IMODE(data.stat().st_mode) == 0o2750
    assert grp.getgrgid(data.stat().st_gid).gr_name == group
    for path in [data, *data.rglob("*")]:
        assert path.stat().st_mode & 0o027 == 0, oct(path.stat().st_mode)
    db = data / "compoundeye.db"
    assert db.exists() and stat.S_IMODE(db.stat().st_mode) == 0o640
    bad = _cli({**env, "CE_DATA_GROUP": "no-such-group-here"}, "export", "search", "--site",
               str(site), "--start", (now - timedelta(minutes=5)).isoformat(), "--end",
               now.isoformat())
    assert bad.returncode == 2 and "no-such-group-here" in bad.stderr
