"""``${VAR}`` references in camera URLs: a site file committed with no password in it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from compoundeye.site import SiteConfigError, load_site
from compoundeye.site.credentials import Credentials, CredentialsFileError

CLI = Path(sys.executable).with_name("compoundeye")
LOC = "location: {building: B1, lat: 31.11, lon: 121.38}"


def _write(tmp_path: Path) -> Path:
    (tmp_path / "cameras.csv").write_text(
        "id,main_url,sub_url,building,lat,lon\n"
        "csv-1,rtsp://viewer:${CSV_PASS}@10.0.0.9/main,,B1,31.11,121.38\n"
        "csv-2,${CSV2_URL},,B1,31.11,121.38\n", encoding="utf-8")
    site = tmp_path / "site.yaml"
    site.write_text(
        "camera_files: [{path: cameras.csv}]\n"
        "cameras:\n"
        f"  - {{id: cam-1, main_url: 'rtsp://admin:${{CAM1_PASS}}@10.0.0.5/101', "
        f"sub_url: 'rtsp://admin:${{CAM1_PASS}}@10.0.0.5/102', {LOC}}}\n"
        f"  - {{id: cam-2, main_url: 'rtsp://10.0.0.6/live?price=$$5', {LOC}}}\n",
        encoding="utf-8")
    return site


def test_references_resolve_from_the_environment_and_the_file(tmp_path: Path) -> None:
    site_file = _write(tmp_path)
    creds = tmp_path / "creds.env"
    creds.write_text("# camera passwords\nCSV_PASS='s3cr%40t'\nCSV2_URL=rtsp://10.0.0.10/x\n",
                     encoding="utf-8")
    creds.chmod(0o600)
    env = {"CAM1_PASS": "hunter2", "CE_CREDENTIALS_FILE": str(creds),
           "CSV2_URL": "rtsp://from-env/x"}  # the environment wins over the file
    site = load_site(site_file, Credentials.from_environment(env))
    by_id = site.cameras_by_id
    assert by_id["cam-1"].main_url == "rtsp://admin:hunter2@10.0.0.5/101"
    assert by_id["cam-1"].sub_url == "rtsp://admin:hunter2@10.0.0.5/102"
    assert by_id["cam-2"].main_url == "rtsp://10.0.0.6/live?price=$5"
    assert by_id["csv-1"].main_url == "rtsp://viewer:s3cr%40t@10.0.0.9/main"
    assert by_id["csv-2"].main_url == "rtsp://from-env/x"


def test_without_credentials_urls_stay_as_written(tmp_path: Path) -> None:
    # The dashboard and the alerting service never connect to a camera: no password there.
    site = load_site(_write(tmp_path))
    assert site.cameras_by_id["cam-1"].main_url == "rtsp://admin:${CAM1_PASS}@10.0.0.5/101"
    assert site.cameras_by_id["csv-2"].main_url == "${CSV2_URL}"


def test_unset_variables_are_named_by_yaml_path_and_csv_row(tmp_path: Path) -> None:
    with pytest.raises(SiteConfigError) as caught:
        load_site(_write(tmp_path), Credentials.from_environment({"CSV_PASS": "x"}))
    text = "\n".join(str(e) for e in caught.value.errors)
    assert "cameras[0].main_url: ${CAM1_PASS} is not set" in text
    assert "cameras[0].sub_url: ${CAM1_PASS} is not set" in text
    assert "camera_files[0] (cameras.csv) row 3, column main_url: ${CSV2_URL} is not set" in text
    assert "csv-1" not in text and "row 2" not in text


def test_a_malformed_reference_is_an_error_even_unresolved(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(f"cameras:\n  - {{id: c, main_url: 'rtsp://u:${{9x}}@h/x', {LOC}}}\n"
                    f"  - {{id: d, main_url: 'rtsp://u:${{OPEN@h/x', {LOC}}}\n")
    with pytest.raises(SiteConfigError) as caught:
        load_site(site)
    text = "\n".join(str(e) for e in caught.value.errors)
    assert "cameras[0].main_url: bad reference ${9x}" in text
    assert "cameras[1].main_url: '${' without a closing '}'" in text


def test_a_credentials_file_others_can_read_is_refused(tmp_path: Path) -> None:
    creds = tmp_path / "creds.env"
    creds.write_text("CAM1_PASS=hunter2\n")
    creds.chmod(0o644)
    with pytest.raises(CredentialsFileError, match="chmod 600"):
        Credentials.from_environment({"CE_CREDENTIALS_FILE": str(creds)})


def _check_config(site: Path, env: dict[str, str], *extra: str
                  ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CAM1_", "CSV"))}
    clean.pop("CE_CREDENTIALS_FILE", None)
    return subprocess.run([str(CLI), "check-config", *extra, str(site)], env={**clean, **env},
                          capture_output=True, text=True, timeout=60, check=False)


def test_check_config_names_the_unset_variable_and_never_prints_a_value(tmp_path: Path) -> None:
    site = _write(tmp_path)
    missing = _check_config(site, {"CAM1_PASS": "hunter2", "CSV_PASS": "pw1"})
    assert missing.returncode == 1
    assert "row 3, column main_url: ${CSV2_URL} is not set" in missing.stderr
    assert "hunter2" not in missing.stderr + missing.stdout
    whole = _check_config(site, {"CAM1_PASS": "hunter2", "CSV_PASS": "pw1",
                                 "CSV2_URL": "rtsp://h/x"})
    assert whole.returncode == 0, whole.stderr
    assert "ok: 4 cameras" in whole.stdout and "hunter2" not in whole.stdout
    assert _check_config(site, {}, "--no-credentials").returncode == 0
