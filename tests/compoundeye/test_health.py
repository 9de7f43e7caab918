"""``compoundeye health`` against the real services, and with one of them away."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path

import pytest

from compoundeye.health import check_all, run
from compoundeye.services import ServiceSet
from compoundeye.settings import Settings

pytestmark = pytest.mark.timeout(60)


def _dead_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _use(monkeypatch: pytest.MonkeyPatch, services: ServiceSet, data_dir: Path) -> None:
    for key, value in services.env_vars().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("CE_DATA_DIR", str(data_dir))
    monkeypatch.delenv("CE_DATABASE_URL", raising=False)


def test_all_services_answer(
    monkeypatch: pytest.MonkeyPatch, services: ServiceSet, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _use(monkeypatch, services, tmp_path)
    assert run(argparse.Namespace()) == 0
    out = capsys.readouterr().out
    for name in ("redis", "mqtt", "tsdb", "store"):
        assert any(line.startswith(name) and " ok " in line for line in out.splitlines()), out
    assert " ms " in out


def test_postgres_store_answers(
    monkeypatch: pytest.MonkeyPatch, services: ServiceSet, tmp_path: Path, postgres_url: str
) -> None:
    _use(monkeypatch, services, tmp_path)
    monkeypatch.setenv("CE_DATABASE_URL", postgres_url)
    store = check_all(Settings())[-1]
    assert (store.name, store.ok, store.detail) == ("store", True, "postgresql")


def test_a_service_away_fails_with_its_name(
    monkeypatch: pytest.MonkeyPatch, services: ServiceSet, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _use(monkeypatch, services, tmp_path)
    monkeypatch.setenv("CE_TSDB_URL", f"http://127.0.0.1:{_dead_port()}")
    monkeypatch.setenv("CE_DATABASE_URL", "postgresql+psycopg://nobody:secret@127.0.0.1:1/x")
    assert run(argparse.Namespace()) == 1
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert " ok " in lines["redis"] and " ok " in lines["mqtt"]
    assert "FAIL" in lines["tsdb"] and "no /health" in lines["tsdb"]
    assert "FAIL" in lines["store"]
    assert "secret" not in lines["store"] and "***" in lines["store"]
