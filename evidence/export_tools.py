"""What every export carries besides the footage: the stand-alone verifier, the
examiner's README and the site's public keys (listed in the manifest's ``tools``), and
the signature of the manifest (``signature.json``)."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from evidence.manifest import (
    MANIFEST_NAME,
    PUBLIC_KEYS_NAME,
    SIGNATURE_NAME,
    FileEntry,
    SignatureFile,
    SigningInfo,
    write_durably,
)
from evidence.signing import ALGORITHM, Keyring, SigningKey

EXAMINER_DIR = Path(__file__).resolve().parent / "examiner"
VERIFIER_NAME = "verify.py"
README_NAME = "README.txt"


def examiner_files() -> dict[str, bytes]:
    """The verifier and the README as shipped (read from the package)."""
    return {name: (EXAMINER_DIR / name).read_bytes() for name in (VERIFIER_NAME, README_NAME)}


def write_tools(directory: Path, keyring: Keyring) -> list[FileEntry]:
    """Write ``verify.py``, ``README.txt`` and ``public-keys.json`` into the export;
    their entries for the manifest."""
    files = {**examiner_files(), PUBLIC_KEYS_NAME: keyring.public_document()}
    out = []
    for name, data in files.items():
        write_durably(directory / name, data)
        out.append(FileEntry(path=name, size=len(data), sha256=hashlib.sha256(data).hexdigest()))
    return out


def signing_info(key: SigningKey) -> SigningInfo:
    """The manifest's description of the key that signs it."""
    return SigningInfo(algorithm=ALGORITHM, key_id=key.info.key_id,
                       public_key=key.info.public_key, fingerprint=key.info.fingerprint)


def sign_export(directory: Path, key: SigningKey, manifest_sha256: str) -> SignatureFile:
    """Sign ``manifest.json`` as it is on disk and write ``signature.json``."""
    data = (directory / MANIFEST_NAME).read_bytes()
    if hashlib.sha256(data).hexdigest() != manifest_sha256:
        raise RuntimeError("manifest.json changed between writing and signing")
    signature = SignatureFile(
        algorithm=ALGORITHM, key_id=key.info.key_id, public_key=key.info.public_key,
        fingerprint=key.info.fingerprint, manifest_sha256=manifest_sha256,
        signature=base64.b64encode(key.sign(data)).decode("ascii"))
    write_durably(directory / SIGNATURE_NAME,
                  (signature.model_dump_json(indent=2) + "\n").encode("utf-8"))
    return signature
