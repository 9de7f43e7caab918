"""Token file: only hashes stored, atomic 0600 writes, verification and the CLI."""

from __future__ import annotations

import argparse
import json
import stat
from pathlib import Path

import pytest

from compoundeye.auth.roles import Role
from compoundeye.auth.tokens import TokenRegistry, add_token, cli_add, hash_token


def test_only_the_hash_is_stored_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "t" / "tokens.json"
    token = add_token(path, "desk-1", Role.OPERATOR)
    text = path.read_text()
    assert token not in text
    assert hash_token(token) in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    record = json.loads(text)["tokens"][0]
    assert record["name"] == "desk-1" and record["role"] == "operator"


def test_registry_verifies_and_sees_new_tokens(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    registry = TokenRegistry(path)
    assert registry.verify("anything") is None
    first = add_token(path, "ops-1", Role.OPS)
    found = registry.verify(first)
    assert found is not None and found.role is Role.OPS
    second = add_token(path, "admin-1", Role.ADMIN)
    assert registry.verify(second) is not None
    assert registry.verify(first + "x") is None
    assert registry.verify("x" * 10_000) is None


def test_adding_a_name_again_rotates_the_token(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    old = add_token(path, "desk", Role.OPERATOR)
    new = add_token(path, "desk", Role.ADMIN)
    registry = TokenRegistry(path)
    assert registry.verify(old) is None
    found = registry.verify(new)
    assert found is not None and found.role is Role.ADMIN


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, "../etc"])
def test_bad_names_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ValueError):
        add_token(tmp_path / "tokens.json", name, Role.OPS)


def test_cli_prints_the_token_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tokens.json"
    monkeypatch.setenv("CE_TOKENS_FILE", str(path))
    assert cli_add(argparse.Namespace(name="inv-1", role="investigator")) == 0
    token = capsys.readouterr().out.strip()
    found = TokenRegistry(path).verify(token)
    assert found is not None and found.role is Role.INVESTIGATOR
    assert cli_add(argparse.Namespace(name="bad name", role="ops")) == 2


def test_garbage_file_is_an_error_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    path.write_text("{not json")
    assert TokenRegistry(path).verify("ce_x") is None
