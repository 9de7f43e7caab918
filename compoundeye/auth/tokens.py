"""API tokens: generated once, shown once, stored only as SHA-256 hashes.

The file (``CE_TOKENS_FILE``, default ``data_dir/tokens.json``) is
``{"tokens": [{"name", "role", "sha256", "created"}]}``; it is written atomically with
mode 0600, and re-read by a running dashboard when it changes.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from compoundeye.auth.roles import Role
from compoundeye.settings import Settings
from compoundeye.timeutil import to_rfc3339, utcnow

log = logging.getLogger(__name__)

TOKEN_PREFIX = "ce_"  # noqa: S105 - a prefix, not a secret
MAX_TOKEN_LENGTH = 256


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenRecord:
    """One stored token: its name, role and hash (never the token itself)."""

    name: str
    role: Role
    sha256: str
    created: str


class TokenFileError(ValueError):
    """The token file exists but cannot be understood."""


def read_tokens(path: Path) -> list[TokenRecord]:
    """Every token record in ``path``; an absent file holds none."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    try:
        document = json.loads(raw)
        return [
            TokenRecord(name=str(t["name"]), role=Role(t["role"]), sha256=str(t["sha256"]),
                        created=str(t.get("created", "")))
            for t in document.get("tokens", [])
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TokenFileError(f"{path}: not a token file ({exc})") from exc


def _write_atomic(path: Path, records: list[TokenRecord]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {"tokens": [
        {"name": r.name, "role": r.role.value, "sha256": r.sha256, "created": r.created}
        for r in records
    ]}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tokens-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def add_token(path: Path, name: str, role: Role) -> str:
    """Create a token for ``name`` with ``role``; return it (the only time it is seen).

    A second token with the same name replaces the first, so a leaked token is rotated by
    adding it again.
    """
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").isalnum():
        raise ValueError("token name: 1-64 letters, digits, '-' or '_'")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = path.with_name(path.name + ".lock")
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        records = [r for r in read_tokens(path) if r.name != name]
        records.append(TokenRecord(name, role, hash_token(token), to_rfc3339(utcnow())))
        _write_atomic(path, records)
    return token


def revoke_token(path: Path, name: str) -> bool:
    """Remove the token named ``name``; True if there was one."""
    if not path.exists():
        return False
    lock_path = path.with_name(path.name + ".lock")
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        records = read_tokens(path)
        kept = [r for r in records if r.name != name]
        if len(kept) == len(records):
            return False
        _write_atomic(path, kept)
    return True


class TokenRegistry:
    """Checks presented tokens against the file, reloading it when it changes."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._by_hash: dict[str, TokenRecord] = {}
        self._by_name: dict[str, TokenRecord] = {}

    def _refresh(self) -> None:
        try:
            st = self._path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp == self._stamp and (stamp is not None or not self._by_hash):
                return
            try:
                records = read_tokens(self._path)
            except TokenFileError:
                log.exception("token file unreadable; keeping the previous tokens")
                return
            self._by_hash = {r.sha256: r for r in records}
            self._by_name = {r.name: r for r in records}
            self._stamp = stamp

    def verify(self, token: str) -> TokenRecord | None:
        """The record of a presented token, or None."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return None
        self._refresh()
        digest = hash_token(token)
        record = self._by_hash.get(digest)
        if record is None or not hmac.compare_digest(record.sha256, digest):
            return None
        return record

    def by_name(self, name: str) -> TokenRecord | None:
        """The current record named ``name`` (a session stays valid while it exists)."""
        self._refresh()
        return self._by_name.get(name)


def cli_add(args: argparse.Namespace) -> int:
    """``compoundeye token add NAME --role ROLE``: print a new token once."""
    settings = Settings()
    path = settings.effective_tokens_file
    try:
        token = add_token(path, args.name, Role(args.role))
    except (ValueError, TokenFileError) as exc:
        sys.stderr.write(f"token add: {exc}\n")
        return 2
    sys.stdout.write(f"{token}\n")
    sys.stderr.write(f"token {args.name!r} ({args.role}) stored as a hash in {path}; "
                     "it is shown only this once\n")
    return 0


def cli_revoke(args: argparse.Namespace) -> int:
    """``compoundeye token revoke NAME``: remove the token and end its sessions at once."""
    import redis

    from compoundeye.auth.sessions import SessionStore
    from compoundeye.redis_client import redis_from_settings

    settings = Settings()
    path = settings.effective_tokens_file
    try:
        removed = revoke_token(path, args.name)
    except TokenFileError as exc:
        sys.stderr.write(f"token revoke: {exc}\n")
        return 2
    client = redis_from_settings(settings)
    try:
        ended = SessionStore(client).end_for_name(args.name)
    except redis.RedisError as exc:
        # The dashboard checks the token file on every request, so the sessions are dead
        # already; only their records linger until they expire.
        sys.stderr.write(f"token revoke: sessions not deleted from Redis ({exc}); they no "
                         "longer work, since the token is gone\n")
        ended = 0
    finally:
        client.close()
    if not removed and not ended:
        sys.stderr.write(f"token revoke: no token named {args.name!r}\n")
        return 1
    sys.stdout.write(f"revoked {args.name!r}: token {'removed' if removed else 'absent'}, "
                     f"{ended} session(s) ended\n")
    return 0
