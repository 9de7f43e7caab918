"""``compoundeye health``: do Redis, MQTT, the TSDB and the SQL store answer, and how fast."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from compoundeye import redis_client
from compoundeye.mqtt_url import broker_from_settings
from compoundeye.redact import redact_url
from compoundeye.services import mqtt_answers, tsdb_answers
from compoundeye.settings import Settings

TIMEOUT = 3.0


@dataclass(frozen=True)
class CheckResult:
    """One service's answer: whether it is healthy, how long it took, and what was seen."""

    name: str
    target: str
    ok: bool
    latency_ms: float
    detail: str = ""


def _answers(check: Callable[[], bool], ok: str, failed: str) -> Callable[[], tuple[bool, str]]:
    def probe() -> tuple[bool, str]:
        answered = check()
        return answered, ok if answered else failed

    return probe


def _timed(name: str, target: str, probe: Callable[[], tuple[bool, str]]) -> CheckResult:
    start = time.perf_counter()
    try:
        ok, detail = probe()
    except Exception as exc:  # a health check reports every failure, whatever it is
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    elapsed = (time.perf_counter() - start) * 1000
    return CheckResult(name, redact_url(target), ok, elapsed, redact_url(detail))


def _store_probe(url: str) -> Callable[[], tuple[bool, str]]:
    def probe() -> tuple[bool, str]:
        from sqlalchemy import create_engine, make_url, text

        parsed = make_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            path = Path(str(parsed.database))
            if not path.exists():
                # nothing to connect to yet: fine if the store will be able to create it
                ancestor = path.parent
                while not ancestor.exists() and ancestor != ancestor.parent:
                    ancestor = ancestor.parent
                if os.access(ancestor, os.W_OK):
                    return True, "SQLite file not created yet; it can be"
                return False, f"SQLite file cannot be created: {ancestor} is not writable"
        connect_args = {"connect_timeout": int(TIMEOUT)} if parsed.get_backend_name() in (
            "postgresql", "mysql") else {}
        engine = create_engine(url, connect_args=connect_args)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True, parsed.get_backend_name()
        finally:
            engine.dispose()

    return probe


def _mqtt_answers(settings: Settings) -> bool:
    broker = broker_from_settings(settings)  # a bad URL fails the check with its reason
    return mqtt_answers(broker.host, broker.port, TIMEOUT, target=broker)


def check_all(settings: Settings) -> list[CheckResult]:
    """Probe every service named by the settings, one after the other."""
    store_url = settings.effective_database_url
    return [
        _timed("redis", redis_client.describe(settings), _answers(
            lambda: redis_client.answers(settings, TIMEOUT), "PONG", "no answer to PING")),
        _timed("mqtt", settings.mqtt_url, _answers(
            lambda: _mqtt_answers(settings), "CONNACK", "no CONNACK")),
        _timed("tsdb", settings.tsdb_url, _answers(
            lambda: tsdb_answers(settings.tsdb_url, TIMEOUT), "/health OK", "no /health")),
        _timed("store", store_url, _store_probe(store_url)),
    ]


def format_results(results: list[CheckResult]) -> str:
    lines = []
    for r in results:
        state = "ok" if r.ok else "FAIL"
        detail = f"  ({r.detail})" if r.detail else ""
        lines.append(f"{r.name:<6} {state:<4} {r.latency_ms:8.1f} ms  {r.target}{detail}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """Handler of ``compoundeye health``: 0 when every service answers, 1 otherwise."""
    results = check_all(Settings())
    sys.stdout.write(format_results(results))
    return 0 if all(r.ok for r in results) else 1
