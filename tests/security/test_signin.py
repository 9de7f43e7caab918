"""Finding "sign-in has no throttle": 429 with Retry-After per address and for everyone,
and failed sign-ins audited as one row per burst."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from compoundeye.services import ServiceSet
from tests.polling import wait_until
from tests.security.conftest import Dashboard, dashboard_process, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def fresh_dashboard(services: ServiceSet, tmp_path: Path) -> Iterator[Dashboard]:
    """Its own dashboard behind a loopback proxy, its own Redis database (the throttle's
    counters), and bursts that end after half a second of quiet."""
    with dashboard_process(services, tmp_path, redis_db=5,
                           extra={"CE_TRUSTED_PROXIES": "127.0.0.1",
                                  "CE_LOGIN_BURST_SECONDS": "0.5"}) as dash:
        yield dash


def test_the_201st_bad_sign_in_within_a_minute_is_429(fresh_dashboard: Dashboard) -> None:
    with fresh_dashboard.client() as client:
        # From one address: refused once it failed too often (the per-address limit).
        codes = [sign_in(client, "ce_wrong").status_code for _ in range(201)]
        assert codes[0] == 401
        assert codes[200] == 429 and set(codes) == {401, 429}
        last = sign_in(client, "ce_wrong")
        assert last.status_code == 429 and int(last.headers["Retry-After"]) >= 1
        # Even a good token waits: the throttle answers before any token is checked.
        assert sign_in(client, fresh_dashboard.tokens["admin"]).status_code == 429


def test_the_global_limit_holds_against_many_addresses(fresh_dashboard: Dashboard) -> None:
    with fresh_dashboard.client() as client:
        codes = [sign_in(client, "ce_wrong", **{"X-Forwarded-For": f"198.51.100.{i}"}
                         ).status_code for i in range(201)]
    # 201 addresses (the trusted proxy names each) never reach the per-address limit;
    # the 201st failure overall passes the global one.
    assert codes[:200] == [401] * 200
    assert codes[200] == 429


def test_failed_sign_ins_are_one_audit_row_per_burst(fresh_dashboard: Dashboard) -> None:
    with fresh_dashboard.client() as client:
        for _ in range(15):
            assert sign_in(client, "ce_wrong").status_code == 401
        admin = {"Authorization": f"Bearer {fresh_dashboard.tokens['admin']}"}

        def failed_rows() -> list[dict[str, object]]:
            rows = client.get("/api/audit", params={"action": "auth.login_failed"},
                              headers=admin).json()
            return rows if rows else []

        rows = wait_until(failed_rows, timeout=15, what="the burst's audit row")
    assert len(rows) == 1, rows
    assert rows[0]["details"]["count"] == 15  # type: ignore[index]
    assert rows[0]["ip"] == "127.0.0.1"
