"""The site's signing keys: made once at first use, private to the service, rotated with
the old public key kept so old exports still verify."""

from __future__ import annotations

import base64
import json
import stat
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from compoundeye.site.models import Site
from evidence.export_models import ExportRequest, new_export_id
from evidence.export_tools import sign_export, signing_info
from evidence.exporter import Exporter
from evidence.manifest import MANIFEST_NAME, PUBLIC_KEYS_NAME, read_signature, write_manifest
from evidence.signing import Keyring, fingerprint, key_id
from evidence.verify import SignatureStatus, verify_export
from tests.evidence.conftest import T0

ROOT = Path(__file__).resolve().parents[2]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_first_use_makes_one_private_key(tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "keys")
    key = ring.current()
    assert _mode(ring.directory) == 0o700
    private = ring.directory / f"{key.info.key_id}.key"
    assert _mode(private) == 0o600
    assert b"PRIVATE KEY" in private.read_bytes()
    raw = base64.b64decode(key.info.public_key)
    assert len(raw) == 32 and key.info.key_id == key_id(raw)
    assert key.info.fingerprint == fingerprint(raw) and len(key.info.fingerprint) == 64
    assert Keyring(tmp_path / "keys").current().info == key.info  # read back, not remade
    assert key.info.verify(key.sign(b"hello"), b"hello")
    assert not key.info.verify(key.sign(b"hello"), b"hellp")


def test_processes_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    script = ("import sys; from pathlib import Path; from evidence.signing import Keyring; "
              "print(Keyring(Path(sys.argv[1])).current().info.key_id)")
    procs = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "keys")],
                              stdout=subprocess.PIPE, cwd=ROOT) for _ in range(4)]
    ids = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert len(ids) == 1
    assert len(list((tmp_path / "keys").glob("*.key"))) == 1


def test_rotation_keeps_the_old_public_key_and_drops_its_private_key(tmp_path: Path) -> None:
    ring = Keyring(tmp_path / "keys")
    first = ring.current().info
    old, new = ring.rotate()
    assert old is not None and old.key_id == first.key_id and old.retired_at is not None
    assert new.key_id != first.key_id and ring.current().info.key_id == new.key_id
    assert not (ring.directory / f"{first.key_id}.key").exists()
    assert [k.key_id for k in ring.public_keys()] == [first.key_id, new.key_id]
    assert ring.find(first.key_id) is not None and ring.find("0" * 16) is None
    shipped = json.loads(ring.public_document())
    assert shipped["current"] == new.key_id and len(shipped["keys"]) == 2


def test_an_old_export_verifies_after_rotation(export_site: Site, data_dir: Path) -> None:
    ring = Keyring(data_dir / "keys")
    exporter = Exporter(export_site, data_dir / "recordings", keyring=ring)
    request = ExportRequest(camera_ids=["cam-door"], start=T0, end=T0 + timedelta(seconds=15),
                            case_id="C-ROT", reason="rotation", requester="tester")
    old_id = new_export_id()
    old = exporter.run(old_id, request, data_dir / "exports" / old_id)
    ring.rotate()
    new_id = new_export_id()
    new = exporter.run(new_id, request, data_dir / "exports" / new_id)
    assert old.manifest.signing is not None and new.manifest.signing is not None
    assert old.manifest.signing.key_id != new.manifest.signing.key_id
    for result in (old, new):
        report = verify_export(result.directory, keyring=ring)
        assert report.ok, report
        assert report.signature is not None and report.signature.site_key is True
    report = verify_export(old.directory, keyring=ring)
    assert report.signature is not None and "retired" in (report.signature.detail or "")
    shipped = json.loads((new.directory / PUBLIC_KEYS_NAME).read_text())
    assert old.manifest.signing.key_id in {k["key_id"] for k in shipped["keys"]}
    signature = read_signature(old.directory)
    assert signature.key_id == old.manifest.signing.key_id
    assert signature.manifest_sha256 == old.manifest_sha256


def test_an_export_re_signed_with_another_key_is_not_the_sites(export_site: Site,
                                                               data_dir: Path,
                                                               tmp_path: Path) -> None:
    """Someone edits the manifest and signs it with a key of their own: the signature
    holds by itself, but it is not one of the site's keys."""
    site_ring = Keyring(data_dir / "keys")
    exporter = Exporter(export_site, data_dir / "recordings", keyring=site_ring)
    request = ExportRequest(camera_ids=["cam-door"], start=T0, end=T0 + timedelta(seconds=15),
                            case_id="C-F", reason="forgery", requester="tester")
    export_id = new_export_id()
    result = exporter.run(export_id, request, data_dir / "exports" / export_id)
    forger = Keyring(tmp_path / "forger").current()
    forged = result.manifest.model_copy(update={"signing": signing_info(forger)})
    forged.request.reason = "something else"
    sign_export(result.directory, forger, write_manifest(result.directory, forged))
    alone = verify_export(result.directory)
    assert alone.signature is not None and alone.signature.status is SignatureStatus.VALID
    checked = verify_export(result.directory, keyring=site_ring)
    assert not checked.ok
    assert checked.signature is not None
    assert checked.signature.status is SignatureStatus.FOREIGN_KEY
    assert (result.directory / MANIFEST_NAME).is_file()
