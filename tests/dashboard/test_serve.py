"""``compoundeye dashboard``: a bad site file is a clear error, not a traceback."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from dashboard.serve import run


def test_bad_site_file_is_refused_with_the_yaml_path(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("cameras:\n  - id: cam-1\n    bogus: 1\n")
    code = run(argparse.Namespace(site=site, host="127.0.0.1", port=0))
    assert code == 2
    err = capsys.readouterr().err
    assert "cameras[0]" in err
    assert run(argparse.Namespace(site=tmp_path / "missing.yaml", host="127.0.0.1",
                                  port=0)) == 2
