"""`compoundeye edge` argument handling (the running worker is tested in test_worker.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from compoundeye.cli import main
from ingest.main import default_worker_id


def test_invalid_site_file_is_a_clear_error(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("cameras:\n  - {id: cam1, main_url: nope, location: {building: B1}}\n")
    assert main(["edge", "--site", str(site)]) == 2
    err = capsys.readouterr().err
    assert "cameras[0].main_url" in err and "cameras[0].location.lat" in err


def test_missing_site_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["edge", "--site", str(tmp_path / "absent.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_bad_shard_is_refused_by_the_parser(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["edge", "--site", str(tmp_path / "s.yaml"), "--shard", "3/3"])


def test_default_worker_id_names_host_and_shard() -> None:
    assert default_worker_id((2, 8)) == f"{socket.gethostname()}-2of8"
