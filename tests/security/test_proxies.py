"""Finding "proxy headers trusted from loopback" and "any Host header is answered", against
real uvicorn processes: forwarded headers count only from CE_TRUSTED_PROXIES, /metrics is
judged on the socket peer, a Host allow-list, Secure cookies and HSTS over https."""

from __future__ import annotations

import pytest

from tests.security.conftest import Dashboard, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

OUTSIDE = "203.0.113.7"


def _login_rows(dashboard: Dashboard, actor: str) -> list[dict[str, object]]:
    admin = {"Authorization": f"Bearer {dashboard.tokens['admin']}"}
    with dashboard.client(headers=admin) as api:
        rows: list[dict[str, object]] = api.get(
            "/api/audit", params={"action": "auth.login", "actor": actor}).json()
    return rows


def test_a_forwarded_header_from_an_untrusted_peer_is_not_recorded(
        dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        response = sign_in(client, dashboard.tokens["ops"], **{"X-Forwarded-For": OUTSIDE})
        assert response.status_code == 303
    rows = _login_rows(dashboard, "ops-1")
    assert rows and rows[0]["ip"] == "127.0.0.1", rows


def test_a_trusted_proxy_s_forwarded_address_is_recorded(proxied_dashboard: Dashboard) -> None:
    with proxied_dashboard.client() as client:
        assert sign_in(client, proxied_dashboard.tokens["ops"],
                       **{"X-Forwarded-For": OUTSIDE}).status_code == 303
    rows = _login_rows(proxied_dashboard, "ops-1")
    assert rows and rows[0]["ip"] == OUTSIDE, rows


def test_metrics_loopback_check_uses_the_socket_peer(dashboard: Dashboard,
                                                     proxied_dashboard: Dashboard) -> None:
    # A loopback peer claiming to be elsewhere is still on loopback (no proxy is trusted).
    with dashboard.client() as client:
        assert client.get("/metrics", headers={"X-Forwarded-For": OUTSIDE}).status_code == 200
    # Through a trusted local proxy, an outside caller is not "on loopback".
    with proxied_dashboard.client() as client:
        assert client.get("/metrics", headers={"X-Forwarded-For": OUTSIDE}).status_code == 401
        assert client.get("/metrics").status_code == 200


def test_an_unknown_host_header_is_refused(dashboard: Dashboard) -> None:
    with dashboard.client() as client:
        assert client.get("/api/health", headers={"Host": "evil.example"}).status_code == 400
        assert client.get("/api/health", headers={"Host": "localhost"}).status_code == 200


def test_https_through_a_trusted_proxy_sets_secure_cookies_and_hsts(
        proxied_dashboard: Dashboard, dashboard: Dashboard) -> None:
    with proxied_dashboard.client() as client:
        response = sign_in(client, proxied_dashboard.tokens["operator"],
                           **{"X-Forwarded-Proto": "https"})
        assert response.status_code == 303
        cookies = response.headers.get_list("set-cookie")
        assert cookies and all("Secure" in c for c in cookies), cookies
        assert "max-age=" in response.headers.get("strict-transport-security", "")
    with dashboard.client() as client:  # the header from an untrusted peer changes nothing
        response = sign_in(client, dashboard.tokens["operator"],
                           **{"X-Forwarded-Proto": "https"})
        assert all("Secure" not in c for c in response.headers.get_list("set-cookie"))
        assert "strict-transport-security" not in response.headers
