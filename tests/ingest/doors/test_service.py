from __future__ import annotations

import argparse
from pathlib import Path

from ingest.doors.service import run


def test_missing_site_file_is_a_clear_error(tmp_path: Path, capsys):
    assert run(argparse.Namespace(site=tmp_path / "nope.yaml")) == 2
    assert "cannot read" in capsys.readouterr().err
