"""The site's Ed25519 keys for signing export manifests (the ``cryptography`` package).

The keyring lives in ``CE_DATA_DIR/keys/export-signing/`` (mode 0700 even when a data
group shares the rest of the data directory; its files 0600): ``keyring.json``
lists every public key the site has signed with (key id, public key, fingerprint, when
it was made and retired) and names the current one; ``<key id>.key`` is the current
private key (PKCS #8 PEM, mode 0600, readable by the service's user only). The first
signer to need a key makes it; several processes starting at once agree on one key (a
file lock, and the key file created exclusively). ``rotate`` makes a new current key,
deletes the old private key and keeps the old public key, so old exports still verify
and nothing new can be signed with the old key.

The key id is the first 16 hex digits of the SHA-256 of the raw 32-byte public key; the
fingerprint is all 64.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import AwareDatetime, BaseModel, ConfigDict

from compoundeye.settings import Settings
from compoundeye.timeutil import utcnow

log = logging.getLogger(__name__)

ALGORITHM = "Ed25519"
KEYRING_FILE = "keyring.json"
KEYRING_FORMAT = "compoundeye-keyring/1"


class SigningKeyError(RuntimeError):
    """The keyring cannot be read or written (permissions, a damaged file)."""


def key_id(public_raw: bytes) -> str:
    """The key id of a raw Ed25519 public key: 16 hex digits of its SHA-256."""
    return hashlib.sha256(public_raw).hexdigest()[:16]


def fingerprint(public_raw: bytes) -> str:
    """The fingerprint of a raw Ed25519 public key: its SHA-256, 64 hex digits."""
    return hashlib.sha256(public_raw).hexdigest()


def grouped(fingerprint_hex: str) -> str:
    """A fingerprint in groups of four, for reading aloud or comparing by eye."""
    return " ".join(fingerprint_hex[i:i + 4] for i in range(0, len(fingerprint_hex), 4))


class PublicKeyInfo(BaseModel):
    """One public key of the site, as listed in the keyring and shipped in each export."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_id: str
    algorithm: str = ALGORITHM
    public_key: str
    """The raw 32-byte public key, base64."""
    fingerprint: str
    created_at: AwareDatetime
    retired_at: AwareDatetime | None = None

    @property
    def raw(self) -> bytes:
        return base64.b64decode(self.public_key, validate=True)

    def verify(self, signature: bytes, data: bytes) -> bool:
        """Whether ``signature`` is this key's Ed25519 signature of ``data``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, data)
        except (InvalidSignature, ValueError):
            return False
        return True


class KeyringFile(BaseModel):
    """``keyring.json``: every public key, oldest first, and the current key's id."""

    model_config = ConfigDict(extra="forbid")

    format: str = KEYRING_FORMAT
    current: str
    keys: list[PublicKeyInfo]


@dataclass(frozen=True)
class SigningKey:
    """The current private key with its public description."""

    info: PublicKeyInfo
    private: Ed25519PrivateKey

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)


def _public_info(private: Ed25519PrivateKey, created: datetime) -> PublicKeyInfo:
    raw = private.public_key().public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    return PublicKeyInfo(key_id=key_id(raw), public_key=base64.b64encode(raw).decode("ascii"),
                         fingerprint=fingerprint(raw), created_at=created)


def _write_private(path: Path, private: Ed25519PrivateKey) -> None:
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_json(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)


class Keyring:
    """The site's export-signing keys in one directory (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        return cls(settings.data_dir / "keys" / "export-signing")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.directory.chmod(0o700)
        fd = os.open(self.directory / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _read(self) -> KeyringFile | None:
        path = self.directory / KEYRING_FILE
        try:
            return KeyringFile.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise SigningKeyError(f"{path} is unreadable or damaged: {exc}") from exc

    def _save(self, ring: KeyringFile) -> None:
        _write_json(self.directory / KEYRING_FILE,
                    (ring.model_dump_json(indent=2) + "\n").encode(), 0o600)

    def _private_path(self, kid: str) -> Path:
        return self.directory / f"{kid}.key"

    def _load_private(self, info: PublicKeyInfo) -> SigningKey:
        path = self._private_path(info.key_id)
        try:
            loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise SigningKeyError(f"cannot read the signing key {path}: {exc}") from exc
        if not isinstance(loaded, Ed25519PrivateKey):
            raise SigningKeyError(f"{path} is not an Ed25519 private key")
        if _public_info(loaded, info.created_at).public_key != info.public_key:
            raise SigningKeyError(f"{path} does not match key {info.key_id} of the keyring")
        return SigningKey(info, loaded)

    def _create(self, ring: KeyringFile | None) -> SigningKey:
        private = Ed25519PrivateKey.generate()
        info = _public_info(private, utcnow())
        _write_private(self._private_path(info.key_id), private)
        keys = list(ring.keys) if ring is not None else []
        self._save(KeyringFile(current=info.key_id, keys=[*keys, info]))
        log.info("export signing key %s made (fingerprint %s)", info.key_id, info.fingerprint)
        return SigningKey(info, private)

    def current(self) -> SigningKey:
        """The current signing key, made now if the site has none yet."""
        ring = self._read()
        if ring is not None:
            try:
                return self._load_private(self._info(ring, ring.current))
            except SigningKeyError:
                if self._private_path(ring.current).exists():
                    raise
                # Rotated between reading the keyring and the key: read the new one.
        with self._locked():
            ring = self._read()  # another process may have made it meanwhile
            if ring is not None:
                return self._load_private(self._info(ring, ring.current))
            return self._create(None)

    def rotate(self) -> tuple[PublicKeyInfo | None, PublicKeyInfo]:
        """Make a new current key; the old public key stays listed (retired), the old
        private key is deleted. Returns (old, new)."""
        with self._locked():
            ring = self._read()
            old: PublicKeyInfo | None = None
            if ring is not None:
                old = self._info(ring, ring.current).model_copy(update={"retired_at": utcnow()})
                ring = KeyringFile(current=ring.current,
                                   keys=[old if k.key_id == old.key_id else k for k in ring.keys])
            made = self._create(ring)
            if old is not None:
                self._private_path(old.key_id).unlink(missing_ok=True)
        log.warning("export signing key rotated: %s -> %s",
                    old.key_id if old else "none", made.info.key_id)
        return old, made.info

    def public_keys(self) -> list[PublicKeyInfo]:
        """Every public key the site has signed with, oldest first (made if none yet)."""
        ring = self._read()
        if ring is None:
            self.current()
            ring = self._read()
        assert ring is not None
        return list(ring.keys)

    def current_id(self) -> str:
        ring = self._read()
        return ring.current if ring is not None else self.current().info.key_id

    def find(self, kid: str) -> PublicKeyInfo | None:
        """A public key of the site by id (current or retired); None if never the site's."""
        ring = self._read()
        if ring is None:
            return None
        return next((k for k in ring.keys if k.key_id == kid), None)

    @staticmethod
    def _info(ring: KeyringFile, kid: str) -> PublicKeyInfo:
        info = next((k for k in ring.keys if k.key_id == kid), None)
        if info is None:
            raise SigningKeyError(f"the keyring names current key {kid} but does not list it")
        return info

    def public_document(self) -> bytes:
        """``public-keys.json`` as shipped in an export: every public key and the current."""
        keys = self.public_keys()
        body = {"format": KEYRING_FORMAT, "algorithm": ALGORITHM,
                "current": self.current_id(),
                "keys": [k.model_dump(mode="json") for k in keys]}
        return (json.dumps(body, indent=2) + "\n").encode("utf-8")
