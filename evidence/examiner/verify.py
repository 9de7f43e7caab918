#!/usr/bin/env python3
"""Verify a compoundeye evidence export with nothing but a stock Python 3 (3.8 or later).

Usage:  python3 verify.py [EXPORT] [--fingerprint HEX] [--quiet]

EXPORT is the export folder (the one holding manifest.json) or its zip; by default the
folder this file is in. The check:

1. signature.json holds an Ed25519 signature (RFC 8032) of manifest.json's exact bytes.
   It is checked here with a small pure-Python Ed25519, so no package needs installing.
   A signature only says which key signed: compare the fingerprint printed with the one
   the site published, or give it with --fingerprint and the check fails on any other.
2. Every file manifest.json lists is re-hashed (SHA-256) and its size compared. The
   master is also checked segment by segment (it is the source segments' bytes in
   order), so a change is pinned to the recorded segment it falls in.

Exit status: 0 intact, 1 not intact (each failure is printed), 2 bad usage.
This file is part of the export; its own SHA-256 is listed in the manifest's "tools".
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import sys
import zipfile
from collections.abc import Callable
from typing import IO, Any, Tuple

MANIFEST = "manifest.json"
SIGNATURE = "signature.json"
CHUNK = 1 << 20

# --- Ed25519 signature check, written from RFC 8032 sections 5.1.1 to 5.1.7 ------------
# Points are in extended homogeneous coordinates (X, Y, Z, T) with x = X/Z, y = Y/Z and
# x*y = T/Z, on the twisted Edwards curve -x^2 + y^2 = 1 + d*x^2*y^2 over GF(2^255 - 19).

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493  # order of the base point
D = (-121665 * pow(121666, P - 2, P)) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)  # a square root of -1
Point = Tuple[int, int, int, int]  # typing.Tuple: Python 3.8 cannot subscript tuple


def _add(a: Point, b: Point) -> Point:
    """Point addition (RFC 8032 5.1.4, the formulas for a = -1)."""
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % P
    bb = (y1 + x1) * (y2 + x2) % P
    cc = 2 * t1 * t2 * D % P
    dd = 2 * z1 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _double(a: Point) -> Point:
    """Point doubling (RFC 8032 5.1.4)."""
    x1, y1, z1, _ = a
    aa = x1 * x1 % P
    bb = y1 * y1 % P
    cc = 2 * z1 * z1 % P
    h = aa + bb
    e = h - (x1 + y1) * (x1 + y1)
    g = aa - bb
    f = cc + g
    return (e * f % P, g * h % P, f * g % P, e * h % P)


IDENTITY: Point = (0, 1, 1, 0)


def _multiply(scalar: int, point: Point) -> Point:
    result = IDENTITY
    while scalar > 0:
        if scalar & 1:
            result = _add(result, point)
        point = _double(point)
        scalar >>= 1
    return result


def _equal(a: Point, b: Point) -> bool:
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _recover_x(y: int, sign: int) -> int | None:
    """The x of a point from its y and the sign bit (RFC 8032 5.1.3 step 3); None if
    there is no such point."""
    if y >= P:
        return None
    u = (y * y - 1) % P
    v = (D * y * y + 1) % P
    x = u * pow(v, 3, P) * pow(u * pow(v, 7, P), (P - 5) // 8, P) % P
    if (v * x * x - u) % P != 0:
        if (v * x * x + u) % P != 0:
            return None
        x = x * SQRT_M1 % P
    if x == 0 and sign:
        return None
    if x & 1 != sign:
        x = P - x
    return x


def _decode_point(data: bytes) -> Point | None:
    """A 32-byte encoded point (RFC 8032 5.1.3); None when it is not on the curve."""
    if len(data) != 32:
        return None
    value = int.from_bytes(data, "little")
    y = value & ((1 << 255) - 1)
    x = _recover_x(y, value >> 255)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


_BASE_Y = 4 * pow(5, P - 2, P) % P
_BASE_X = _recover_x(_BASE_Y, 0)
assert _BASE_X is not None
BASE: Point = (_BASE_X, _BASE_Y, 1, _BASE_X * _BASE_Y % P)


def ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``message`` by
    ``public_key`` (RFC 8032 5.1.7, with the cofactored group equation)."""
    if len(public_key) != 32 or len(signature) != 64:
        return False
    a = _decode_point(public_key)
    r = _decode_point(signature[:32])
    s = int.from_bytes(signature[32:], "little")
    if a is None or r is None or s >= L:
        return False
    k = int.from_bytes(hashlib.sha512(signature[:32] + public_key + message).digest(),
                       "little") % L
    left = _multiply(8 * s, BASE)
    right = _multiply(8, _add(r, _multiply(k, a)))
    return _equal(left, right)


# --- reading the export: a folder or its zip ---------------------------------------------

class Export:
    """The files of an export, in a folder or a zip."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.zip: zipfile.ZipFile | None = None
        if os.path.isfile(where):
            self.zip = zipfile.ZipFile(where)
            self.names = set(self.zip.namelist())

    def open(self, relative: str) -> IO[bytes] | None:
        """The file's bytes, or None when it is not there (or the path is unsafe)."""
        parts = relative.split("/")
        if not relative or relative.startswith("/") or ".." in parts or "\x00" in relative:
            return None
        if self.zip is not None:
            return self.zip.open(relative) if relative in self.names else None
        path = os.path.join(self.where, *parts)
        real_root = os.path.realpath(self.where)
        if not os.path.realpath(path).startswith(real_root + os.sep):
            return None
        return open(path, "rb") if os.path.isfile(path) else None

    def read(self, relative: str) -> bytes | None:
        handle = self.open(relative)
        if handle is None:
            return None
        with handle:
            return handle.read()


def hash_stream(handle: IO[bytes], slices: list[tuple[int, str, str]]
                ) -> tuple[int, str, list[str]]:
    """Size and SHA-256 of a stream, and the names of the ``(end offset, sha256, name)``
    slices whose bytes differ (read once)."""
    whole = hashlib.sha256()
    part = hashlib.sha256()
    offset = 0
    index = 0
    bad: list[str] = []
    while True:
        chunk = handle.read(CHUNK)
        if not chunk:
            break
        whole.update(chunk)
        view = memoryview(chunk)
        while len(view) and index < len(slices):
            end, expected, name = slices[index]
            take = min(len(view), end - offset)
            part.update(view[:take])
            view = view[take:]
            offset += take
            if offset == end:
                if part.hexdigest() != expected:
                    bad.append(name)
                index += 1
                part = hashlib.sha256()
        offset += len(view)
    bad.extend(name for _, _, name in slices[index:])
    return offset, whole.hexdigest(), bad


# --- the check ----------------------------------------------------------------------------

class Outcome:
    """What was checked and what failed, printed as it goes."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self.say = say
        self.failures: list[str] = []

    def ok(self, text: str) -> None:
        self.say(f"OK        {text}")

    def fail(self, status: str, text: str) -> None:
        self.failures.append(f"{status} {text}")
        self.say(f"{status:<9} {text}")


def check_signature(export: Export, manifest_bytes: bytes, manifest: dict[str, Any],
                    outcome: Outcome, trusted: str | None) -> None:
    raw = export.read(SIGNATURE)
    if raw is None:
        if manifest.get("format") == "compoundeye-export/1":
            outcome.say("UNSIGNED  format 1 export (made before signing): hashes only")
        else:
            outcome.fail("MISSING", f"{SIGNATURE}: the export is not signed")
        return
    try:
        sig = json.loads(raw.decode("utf-8"))
        public = base64.b64decode(sig["public_key"], validate=True)
        signature = base64.b64decode(sig["signature"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        outcome.fail("BAD", f"{SIGNATURE} is unreadable: {exc}")
        return
    print_ = hashlib.sha256(public).hexdigest()
    signing = manifest.get("signing") or {}
    if sig.get("algorithm") != "Ed25519" or sig.get("signed_file") != MANIFEST:
        outcome.fail("BAD", f"{SIGNATURE}: not an Ed25519 signature of {MANIFEST}")
        return
    if signing.get("public_key") != sig["public_key"] or signing.get("key_id") != print_[:16]:
        outcome.fail("MISMATCH", f"{SIGNATURE}: its key is not the key {MANIFEST} names "
                                 f"({signing.get('key_id')})")
        return
    if not ed25519_verify(public, manifest_bytes, signature):
        outcome.fail("BAD", f"signature of {MANIFEST} by key {print_[:16]}: INVALID "
                            "(the manifest or the signature was changed)")
        return
    grouped = " ".join(print_[i:i + 4] for i in range(0, 64, 4))
    outcome.ok(f"signature of {MANIFEST} by key {print_[:16]}, fingerprint {grouped}")
    if trusted is not None:
        wanted = trusted.replace(" ", "").replace(":", "").lower()
        if wanted != print_:
            outcome.fail("UNTRUSTED", "the signing key's fingerprint is not the one given "
                                      "with --fingerprint")
        else:
            outcome.ok("the signing key is the one given with --fingerprint")
    else:
        outcome.say("NOTE      compare this fingerprint with the one the site published; "
                    "anyone can sign with a key of their own")


def _slices(camera: dict[str, Any]) -> list[tuple[int, str, str]]:
    out, end = [], 0
    for seg in camera.get("segments") or []:
        end += int(seg["size"])
        out.append((end, str(seg["sha256"]), str(seg["path"])))
    return out


def check_file(export: Export, entry: dict[str, Any], slices: list[tuple[int, str, str]],
               outcome: Outcome) -> None:
    path, size, digest = str(entry["path"]), int(entry["size"]), str(entry["sha256"])
    try:
        handle = export.open(path)
        if handle is None:
            outcome.fail("MISSING", path)
            return
        with handle:
            actual_size, actual, bad = hash_stream(handle, slices)
    except (OSError, zipfile.BadZipFile) as exc:
        outcome.fail("MISMATCH", f"{path} (unreadable: {exc})")
        return
    if actual == digest and actual_size == size and not bad:
        outcome.ok(f"{path}  sha256 {actual}")
        return
    details = []
    if actual_size != size:
        details.append(f"size {actual_size} != {size}")
    if actual != digest:
        details.append(f"sha256 {actual} != {digest}")
    if bad:
        details.append("differs within recorded segment(s): " + ", ".join(bad[:10]))
    outcome.fail("MISMATCH", f"{path} ({'; '.join(details)})")


def _write(line: str) -> None:
    sys.stdout.write(line + "\n")


def verify(where: str, *, trusted: str | None = None,
           say: Callable[[str], None] = _write) -> list[str]:
    """Check the export at ``where``; returns the failures (empty when intact)."""
    outcome = Outcome(say)
    try:
        export = Export(where)
    except (OSError, zipfile.BadZipFile) as exc:
        outcome.fail("BAD", f"{where}: not a readable export ({exc})")
        return outcome.failures
    manifest_bytes = export.read(MANIFEST)
    if manifest_bytes is None:
        outcome.fail("MISSING", f"{MANIFEST}: {where} is not a complete export")
        return outcome.failures
    try:
        manifest = json.loads(manifest_bytes.decode("utf-8"))
        cameras = list(manifest["cameras"])
    except (ValueError, KeyError, TypeError) as exc:
        outcome.fail("BAD", f"{MANIFEST} is unreadable: {exc}")
        return outcome.failures
    say(f"export    {manifest.get('export_id')}  case {manifest.get('request', {}).get('case_id')}"
        f"  made {manifest.get('created_at')}")
    say(f"manifest  sha256 {hashlib.sha256(manifest_bytes).hexdigest()}")
    check_signature(export, manifest_bytes, manifest, outcome, trusted)
    try:
        for camera in cameras:
            for kind in ("master", "working_copy"):
                entry = camera.get(kind)
                if entry is not None:
                    slices = _slices(camera) if kind == "master" else []
                    check_file(export, entry, slices, outcome)
            for gap in camera.get("gaps") or []:
                say(f"GAP       {camera.get('camera_id')} {gap.get('start')} .. "
                    f"{gap.get('end')}: {gap.get('reason')}")
        for entry in manifest.get("tools") or []:
            check_file(export, entry, [], outcome)
    except (KeyError, TypeError, ValueError) as exc:
        outcome.fail("BAD", f"{MANIFEST} lists a file it does not describe fully: {exc}")
    return outcome.failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a compoundeye evidence export.")
    parser.add_argument("export", nargs="?", default=os.path.dirname(os.path.abspath(__file__)),
                        help="the export folder or zip (default: this file's folder)")
    parser.add_argument("--fingerprint", default=None,
                        help="the signing key's fingerprint as the site published it")
    parser.add_argument("--quiet", action="store_true", help="print failures only")
    args = parser.parse_args(argv)
    if not os.path.exists(args.export):
        sys.stderr.write(f"{args.export}: no such file or folder\n")
        return 2

    def say(line: str) -> None:
        if not args.quiet or not line.startswith(("OK", "GAP", "NOTE", "export", "manifest")):
            sys.stdout.write(line + "\n")

    failures = verify(args.export, trusted=args.fingerprint, say=say)
    sys.stdout.write("INTACT\n" if not failures else
                     f"NOT INTACT: {len(failures)} problem(s)\n")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
