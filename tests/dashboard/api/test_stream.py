"""The live alert stream over a real uvicorn server: ids, resume, restart catch-up."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest
import redis

from compoundeye.alert_stream import AlertChangePublisher
from compoundeye.services import ServiceSet
from compoundeye.settings import Settings
from compoundeye.site.models import Site
from compoundeye.store import Store
from dashboard.app import create_app
from tests.dashboard.conftest import bearer, open_alert
from tests.dashboard.live import serve

pytestmark = pytest.mark.timeout(90)


def _events(source: httpx.Response | Iterator[str],
            count: int) -> list[tuple[str, dict[str, object]]]:
    """Read ``count`` SSE ``alert`` events: (id, decoded data)."""
    out: list[tuple[str, dict[str, object]]] = []
    event_id, kind, data = "", "", ""
    lines = source.iter_lines() if isinstance(source, httpx.Response) else source
    for line in lines:
        if line.startswith("id: "):
            event_id = line[4:]
        elif line.startswith("event: "):
            kind = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
        elif line == "" and kind == "alert":
            out.append((event_id, json.loads(data)))
            event_id, kind, data = "", "", ""
            if len(out) == count:
                return out
    raise AssertionError(f"stream ended after {len(out)} events")


@pytest.fixture
def writer(dash_settings: Settings, redis_client: redis.Redis) -> Iterator[Store]:
    """Another process's view of the store (like the alerting service), publishing changes."""
    store = Store.from_settings(dash_settings, on_change=AlertChangePublisher(redis_client))
    try:
        yield store
    finally:
        store.close()


def test_stream_pushes_changes_and_resumes_across_a_restart(
        dash_settings: Settings, site: Site, tokens: dict[str, str], writer: Store) -> None:
    headers = bearer(tokens["operator"])
    with serve(create_app(dash_settings, site)) as base, httpx.Client(timeout=15) as http:
        with http.stream("GET", f"{base}/api/alerts/stream", headers=headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            first = open_alert(writer, key="first")
            [(first_id, change)] = _events(response, 1)
        assert change["action"] == "created"
        assert change["alert"]["id"] == first  # type: ignore[index]
        assert first_id.count("-") == 1

    # Dashboard down: two more alerts happen.
    second = open_alert(writer, key="second", priority=2)
    third = open_alert(writer, key="third", priority=1)

    with serve(create_app(dash_settings, site)) as base, httpx.Client(timeout=15) as http:
        resume = {**headers, "Last-Event-ID": first_id}
        with http.stream("GET", f"{base}/api/alerts/stream", headers=resume) as response:
            caught_up = _events(response, 2)
    assert [c["alert"]["id"] for _, c in caught_up] == [second, third]  # type: ignore[index]

    def order(entry_id: str) -> tuple[int, int]:
        ms, seq = entry_id.split("-")
        return int(ms), int(seq)

    assert order(first_id) < order(caught_up[0][0]) < order(caught_up[1][0])


def test_stream_refuses_a_malformed_last_event_id(
        dash_settings: Settings, site: Site, tokens: dict[str, str],
        redis_client: redis.Redis) -> None:
    with serve(create_app(dash_settings, site)) as base:
        response = httpx.get(f"{base}/api/alerts/stream", timeout=10,
                             headers={**bearer(tokens["operator"]), "Last-Event-ID": "abc"})
    assert response.status_code == 400
    assert "stream id" in response.json()["detail"]


@pytest.mark.slow
def test_stream_survives_a_redis_restart(
        services: ServiceSet, dash_settings: Settings, site: Site, tokens: dict[str, str],
        writer: Store) -> None:
    if not services.is_private("redis"):
        pytest.skip("Redis is external: it cannot be restarted from here")
    headers = bearer(tokens["operator"])
    with (serve(create_app(dash_settings, site)) as base, httpx.Client(timeout=20) as http,
          http.stream("GET", f"{base}/api/alerts/stream", headers=headers) as response):
        lines = response.iter_lines()
        before = open_alert(writer, key="before")
        [(_, first)] = _events(lines, 1)
        assert first["alert"]["id"] == before  # type: ignore[index]
        services.stop_service("redis")
        time.sleep(3)  # the stream notices and keeps the browser connected
        services.start_service("redis")
        after = open_alert(writer, key="after")
        [(_, second)] = _events(lines, 1)
    assert second["alert"]["id"] == after  # type: ignore[index]
