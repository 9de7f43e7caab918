"""Dashboard fixtures: a small site, tokens for every role, the app on real services."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from compoundeye.auth.roles import Role
from compoundeye.auth.tokens import add_token
from compoundeye.settings import Settings
from compoundeye.site.models import Site
from compoundeye.store import NewAlert, Store
from dashboard.app import create_app

SITE = {
    "name": "test compound",
    "cameras": [
        {"id": f"cam-{b}{i}", "name": f"Camera {b}{i}", "main_url": f"rtsp://127.0.0.1:1/{b}{i}",
         "location": {"building": f"B{b}", "zone": "lobby" if i == 1 else "car-park",
                      "lat": 31.11 + 0.001 * ord(b) + 0.0001 * i, "lon": 121.38 + 0.0001 * i}}
        for b in "AB" for i in (1, 2)
    ],
    "doors": [
        {"id": f"door-{b}", "name": f"Door {b}", "cameras": [f"cam-{b}1"],
         "location": {"building": f"B{b}", "zone": "lobby",
                      "lat": 31.11 + 0.001 * ord(b), "lon": 121.38}}
        for b in "AB"
    ],
}


@pytest.fixture
def site() -> Site:
    return Site.model_validate(SITE)


@pytest.fixture
def dash_settings(tmp_path: Path, redis_url: str, tsdb_url: str) -> Settings:
    return Settings(redis_url=redis_url, tsdb_url=tsdb_url, data_dir=tmp_path / "data",
                    database_url="", tokens_file=tmp_path / "tokens.json")


@pytest.fixture
def tokens(dash_settings: Settings) -> dict[str, str]:
    assert dash_settings.tokens_file is not None
    return {role.value: add_token(dash_settings.tokens_file, f"{role.value}-1", role)
            for role in Role}


@pytest.fixture
def client(dash_settings: Settings, site: Site, tokens: dict[str, str],
           redis_client: redis.Redis) -> Iterator[TestClient]:
    app = create_app(dash_settings, site)
    with TestClient(app, base_url="http://127.0.0.1", client=("127.0.0.1", 50000)) as test_client:
        yield test_client


@pytest.fixture
def store(client: TestClient) -> Store:
    """The app's own store (same SQLite file), publishing changes to ce:alerts."""
    state = client.app.state.ce  # type: ignore[attr-defined]
    return state.store  # type: ignore[no-any-return]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_alert(store: Store, *, source: str = "door-A", rule: str = "door_forced",
               priority: int = 1, building: str = "BA", key: str | None = None,
               cameras: list[str] | None = None, at: datetime | None = None) -> str:
    """Open an alert in the store the way the alerting service does."""
    at = at or datetime.now(UTC)
    alert = store.alerts.create(NewAlert(
        rule=rule, priority=priority, source_type="door", source_id=source,
        title=f"{rule} at {source}", dedupe_key=key or f"{rule}:{source}:{at.timestamp()}",
        event_at=at, building=building, cameras=cameras or [],
        clip_start=at, clip_end=at,
    ), actor="alerts")
    return alert.id
