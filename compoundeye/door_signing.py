"""Per-door HMAC signatures over the native door payload (optional, per controller).

A signed message is a JSON envelope ``{"payload": "<the native JSON, as text>",
"hmac": "<hex HMAC-SHA256>"}``. The MAC covers a version tag, the door id and the payload's
exact UTF-8 bytes, so the signed bytes need no canonical JSON form and a payload signed for
one door does not verify for another even if two doors were given the same key by mistake.

The keys live in a secrets file (``CE_DOOR_KEYS_FILE``, mode 0600)::

    {"doors": {"door-01": "<64 hex digits>", ...}}

A door listed there must sign every message; a door not listed may send plain payloads.
The door simulator signs with the same file; the listener verifies
(``ingest/doors/formats.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SIGNATURE_VERSION = b"compoundeye-door-v1"
KEY_BYTES = 32
ENVELOPE_KEYS = frozenset({"payload", "hmac"})


class DoorKeysError(ValueError):
    """The door keys file exists but cannot be used."""


def mac(key: bytes, door_id: str, payload: bytes) -> str:
    """The hex HMAC-SHA256 of one payload for one door."""
    message = SIGNATURE_VERSION + b"\x1f" + door_id.encode("utf-8") + b"\x1f" + payload
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def sign(key: bytes, door_id: str, payload: bytes) -> bytes:
    """The signed envelope carrying ``payload`` (a native JSON document)."""
    envelope = {"payload": payload.decode("utf-8"), "hmac": mac(key, door_id, payload)}
    return json.dumps(envelope, separators=(",", ":")).encode("utf-8")


def is_envelope(data: dict[str, Any]) -> bool:
    """Whether a decoded JSON object is a signed envelope (and nothing else)."""
    return set(data) == ENVELOPE_KEYS


def verify(key: bytes, door_id: str, data: dict[str, Any]) -> bytes | None:
    """The inner payload's bytes when the envelope's MAC is right, else None."""
    payload, given = data.get("payload"), data.get("hmac")
    if not isinstance(payload, str) or not isinstance(given, str) or len(given) != 64:
        return None
    raw = payload.encode("utf-8")
    if not hmac.compare_digest(mac(key, door_id, raw), given.lower()):
        return None
    return raw


def read_door_keys(path: Path) -> dict[str, bytes]:
    """Door id to key from ``path``; an absent file holds none."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except ValueError as exc:
        raise DoorKeysError(f"{path}: not JSON ({exc})") from None
    doors = document.get("doors") if isinstance(document, dict) else None
    if not isinstance(doors, dict):
        raise DoorKeysError(f"{path}: expected {{\"doors\": {{door id: hex key}}}}")
    keys: dict[str, bytes] = {}
    for door_id, value in doors.items():
        try:
            key = bytes.fromhex(str(value))
        except ValueError:
            raise DoorKeysError(f"{path}: the key of door {door_id!r} is not hex") from None
        if len(key) < 16:
            raise DoorKeysError(f"{path}: the key of door {door_id!r} is under 16 bytes")
        keys[str(door_id)] = key
    return keys


def add_door_key(path: Path, door_id: str) -> bytes:
    """Create (or replace) ``door_id``'s key in ``path`` (written 0600, atomically)."""
    keys = read_door_keys(path)
    keys[door_id] = secrets.token_bytes(KEY_BYTES)
    document = {"doors": {door: key.hex() for door, key in sorted(keys.items())}}
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".door-keys-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=1)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return keys[door_id]


@dataclass
class DoorKeys:
    """The keys file, re-read when it changes (a key added for a new controller counts at
    once); a file that becomes unreadable keeps the previous keys and raises nothing."""

    path: Path | None

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, bytes] = {}
        if self.path is not None:
            self._keys = read_door_keys(self.path)  # a broken file fails loudly at start
            self._stamp = self._stat()

    def _stat(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return st.st_mtime_ns, st.st_size

    def key(self, door_id: str) -> bytes | None:
        """The door's key, or None when the door may send unsigned payloads."""
        if self.path is not None:
            stamp = self._stat()
            with self._lock:
                if stamp != self._stamp:
                    try:
                        self._keys = read_door_keys(self.path)
                        self._stamp = stamp
                    except DoorKeysError:
                        pass  # keep the keys we had; the next change is read again
        return self._keys.get(door_id)
