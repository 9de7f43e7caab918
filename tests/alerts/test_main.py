from __future__ import annotations

import argparse
from pathlib import Path

from alerts.main import run


def test_bad_site_file_is_a_clear_error_not_a_crash(tmp_path: Path, capsys):
    site = tmp_path / "site.yaml"
    site.write_text("cameras: [{id: 'bad id!'}]\n", encoding="utf-8")
    assert run(argparse.Namespace(site=site, consumer=None)) == 2
    assert "site.yaml" in capsys.readouterr().err
