"""The stand-alone verifier shipped in every export: its pure-Python Ed25519 against
RFC 8032's test vectors and the ``cryptography`` package, and its imports (standard
library only)."""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from types import ModuleType

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from evidence.export_tools import EXAMINER_DIR, VERIFIER_NAME

# RFC 8032 section 7.1, TEST 1 (empty message), TEST 2 (one byte) and TEST 3 (two bytes).
RFC_VECTORS = [
    ("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e"
     "39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f"
     "3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
    ("fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67"
     "f760984dc6594a7c15e9716ed28dc027beceea1ec40a"),
]


@pytest.fixture(scope="module")
def examiner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("examiner_verify",
                                                  EXAMINER_DIR / VERIFIER_NAME)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(("public", "message", "signature"), RFC_VECTORS)
def test_rfc8032_vectors(examiner: ModuleType, public: str, message: str,
                         signature: str) -> None:
    pub, msg, sig = bytes.fromhex(public), bytes.fromhex(message), bytes.fromhex(signature)
    assert examiner.ed25519_verify(pub, msg, sig)
    assert not examiner.ed25519_verify(pub, msg + b"\x00", sig)
    for at in (0, 31, 32, 63):  # a bit of R or of S
        bad = bytearray(sig)
        bad[at] ^= 0x04
        assert not examiner.ed25519_verify(pub, msg, bytes(bad))
    bad_key = bytearray(pub)
    bad_key[3] ^= 0x10
    assert not examiner.ed25519_verify(bytes(bad_key), msg, sig)


def test_agrees_with_the_cryptography_package(examiner: ModuleType) -> None:
    for n in range(40):
        key = Ed25519PrivateKey.generate()
        public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                               serialization.PublicFormat.Raw)
        message = os.urandom(n * 37)
        signature = key.sign(message)
        assert examiner.ed25519_verify(public, message, signature)
        assert not examiner.ed25519_verify(public, message + b"x", signature)


def test_refuses_malformed_input(examiner: ModuleType) -> None:
    public, message, signature = (bytes.fromhex(v) for v in RFC_VECTORS[1])
    order = examiner.L
    s = int.from_bytes(signature[32:], "little")
    # S + L is the same scalar mod L, but not canonical: RFC 8032 says reject.
    assert s + order < 2**256
    malleated = signature[:32] + (s + order).to_bytes(32, "little")
    assert not examiner.ed25519_verify(public, message, malleated)
    assert not examiner.ed25519_verify(public[:31], message, signature)
    assert not examiner.ed25519_verify(public, message, signature[:63])
    not_a_point = (2**255 - 1).to_bytes(32, "little")  # y >= p
    assert not examiner.ed25519_verify(not_a_point, message, signature)


def test_imports_only_the_standard_library() -> None:
    tree = ast.parse((EXAMINER_DIR / VERIFIER_NAME).read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    assert names - {"__future__"} <= set(sys.stdlib_module_names), names
