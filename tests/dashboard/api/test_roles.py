"""Every route against every role: exactly its roles pass, others 403, no token 401."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from compoundeye.store import Store
from tests.dashboard.conftest import bearer, open_alert

ALERT = {"operator", "admin"}
CAMERAS = {"ops", "operator", "admin"}
UPTIME = {"ops", "admin"}
INVESTIGATE = {"investigator", "admin"}
ADMIN = {"admin"}
EVERYONE = {"operator", "investigator", "ops", "admin"}
WINDOW = "start=2026-01-01T00:00:00Z&end=2026-01-01T00:10:00Z"

# (method, path template, roles allowed, JSON body); {alert} is filled with a real id.
ROUTES: list[tuple[str, str, set[str], Any]] = [
    ("GET", "/api/alerts", ALERT, None),
    ("GET", "/api/alerts/{alert}", ALERT, None),
    ("POST", "/api/alerts/{alert}/notes", ALERT, {"note": "seen"}),
    ("POST", "/api/alerts/{alert}/assign", ALERT, {"assignee": "guard-7"}),
    ("POST", "/api/alerts/{alert}/ack", ALERT, None),
    ("POST", "/api/alerts/{alert}/resolve", ALERT, {"note": "done"}),
    ("GET", "/api/alerts/{alert}/snapshot", ALERT, None),
    ("GET", "/api/alerts/{alert}/clip", ALERT, None),
    ("GET", "/api/alerts/{alert}/clip/media", ALERT, None),
    ("GET", "/api/cameras", CAMERAS, None),
    ("GET", "/api/cameras/fps?camera=cam-A1", CAMERAS, None),
    ("GET", "/api/uptime?window=24h", UPTIME, None),
    ("GET", f"/api/recordings/gaps?{WINDOW}", UPTIME, None),
    ("GET", f"/api/recordings/gaps?{WINDOW}&camera=cam-A1&only_gaps=true", UPTIME, None),
    ("GET", "/api/cameras?recording=failing", CAMERAS, None),
    ("GET", f"/api/recordings/search?{WINDOW}&building=BA", INVESTIGATE, None),
    ("GET", f"/api/recordings/clip?camera=cam-A1&{WINDOW}", INVESTIGATE, None),
    ("POST", "/api/exports", INVESTIGATE,
     {"camera_ids": ["cam-A1"], "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:01:00Z",
      "case_id": "case-1", "reason": "role test"}),
    ("GET", "/api/exports", INVESTIGATE, None),
    ("GET", f"/api/exports/{'0' * 32}", INVESTIGATE, None),
    ("GET", f"/api/exports/{'0' * 32}/download", INVESTIGATE, None),
    ("GET", "/api/audit", ADMIN, None),
    ("GET", "/api/audit/verify", ADMIN, None),
    ("POST", f"/api/exports/{'0' * 32}/verify", INVESTIGATE, None),
    ("POST", "/api/holds", INVESTIGATE,
     {"camera_ids": ["cam-A1"], "start": "2026-01-01T00:00:00Z", "end": "2026-01-02T00:00:00Z",
      "case_id": "case-1", "reason": "role test"}),
    ("GET", "/api/holds", INVESTIGATE, None),
    ("GET", f"/api/holds/{'0' * 24}", INVESTIGATE, None),
    ("POST", f"/api/holds/{'0' * 24}/release", ADMIN, {"reason": "role test"}),
    ("GET", "/api/custody?case_id=case-1", INVESTIGATE, None),
    ("GET", "/api/custody/report?case_id=case-1", INVESTIGATE, None),
    ("GET", "/api/signing-keys", INVESTIGATE, None),
    ("GET", "/api/map", EVERYONE, None),
    ("GET", "/api/me", EVERYONE, None),
]


def _call(client: TestClient, method: str, path: str, body: Any,
          headers: dict[str, str]) -> int:
    return int(client.request(method, path, json=body, headers=headers).status_code)


@pytest.mark.parametrize(("method", "template", "allowed", "body"), ROUTES,
                         ids=[f"{m} {p}" for m, p, _, _ in ROUTES])
def test_route_roles(client: TestClient, store: Store, tokens: dict[str, str], method: str,
                     template: str, allowed: set[str], body: Any) -> None:
    for role, token in tokens.items():
        # A fresh alert per role: a lifecycle change must not fail only for being repeated.
        path = template.format(alert=open_alert(store, key=f"k-{role}-{template}"))
        status = _call(client, method, path, body, bearer(token))
        if role in allowed:
            assert status not in (401, 403), (role, path, status)
            assert status < 500, (role, path, status)
        else:
            assert status == 403, (role, path, status)
    path = template.format(alert=open_alert(store, key=f"anon-{template}"))
    assert _call(client, method, path, body, {}) == 401
    assert _call(client, method, path, body, bearer("ce_not-a-token")) == 401


def test_allowed_calls_really_succeed(client: TestClient, store: Store,
                                      tokens: dict[str, str]) -> None:
    alert_id = open_alert(store)
    op = bearer(tokens["operator"])
    assert client.get("/api/alerts", headers=op).status_code == 200
    assert client.post(f"/api/alerts/{alert_id}/ack", headers=op).status_code == 200
    assert client.get("/api/cameras", headers=bearer(tokens["ops"])).status_code == 200
    assert client.get("/api/audit", headers=bearer(tokens["admin"])).status_code == 200
    assert client.get("/api/map", headers=bearer(tokens["investigator"])).status_code == 200


def test_stream_roles(client: TestClient, tokens: dict[str, str]) -> None:
    for role in ("investigator", "ops"):
        assert client.get("/api/alerts/stream", headers=bearer(tokens[role])).status_code == 403
    assert client.get("/api/alerts/stream").status_code == 401


def test_health_needs_no_token(client: TestClient) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["checks"] == {"redis": "ok", "store": "ok"}


def test_metrics_open_on_loopback_only(client: TestClient, tokens: dict[str, str]) -> None:
    client.get("/api/health")
    text = client.get("/metrics").text
    assert 'ce_dashboard_http_requests_total{method="GET",route="/api/health",status="200"}' in text
    remote = TestClient(client.app, base_url="http://127.0.0.1", client=("203.0.113.9", 40000))
    assert remote.get("/metrics").status_code == 401
    assert remote.get("/metrics", headers=bearer(tokens["operator"])).status_code == 403
    assert remote.get("/metrics", headers=bearer(tokens["ops"])).status_code == 200


def test_pages_redirect_to_sign_in_and_check_roles(client: TestClient,
                                                   tokens: dict[str, str]) -> None:
    response = client.get("/cameras", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/cameras"
    pages = {"/": ALERT, "/cameras": CAMERAS, "/recordings": INVESTIGATE, "/map": EVERYONE,
             "/audit": ADMIN}
    for role, token in tokens.items():
        client.cookies.clear()
        signed = client.post("/auth/login", data={"token": token}, follow_redirects=False)
        assert signed.status_code == 303
        for page, allowed in pages.items():
            status = client.get(page, follow_redirects=False).status_code
            assert status == (200 if role in allowed else 403), (role, page, status)
