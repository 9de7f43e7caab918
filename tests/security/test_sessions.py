"""Finding "sign-out does not end a session", against a real dashboard process."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.security.conftest import Dashboard, sign_in

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _signed_in(dashboard: Dashboard, role: str) -> httpx.Client:
    client = dashboard.client()
    assert sign_in(client, dashboard.tokens[role]).status_code == 303
    assert client.get("/api/me").status_code == 200
    return client


def test_a_cookie_replayed_after_sign_out_is_401(dashboard: Dashboard) -> None:
    client = _signed_in(dashboard, "operator")
    copied = dict(client.cookies)  # what an attacker copied before the sign-out
    out = client.post("/auth/logout", data={"csrf": copied.get("ce_csrf", "")},
                      follow_redirects=False)
    assert out.status_code == 303
    with dashboard.client(cookies=copied) as replay:
        assert replay.get("/api/me").status_code == 401
        assert replay.post("/api/alerts/x/notes", json={"note": "still here"},
                           headers={"X-CSRF-Token": copied["ce_csrf"]}).status_code == 401


def test_sign_out_without_the_csrf_token_is_refused(dashboard: Dashboard) -> None:
    client = _signed_in(dashboard, "operator")
    # A cross-site form can send the cookie (a top-level POST) but cannot read ce_csrf.
    forged = client.post("/auth/logout", follow_redirects=False,
                         headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert client.get("/api/me").status_code == 200


def test_token_revoke_ends_the_token_s_sessions_at_once(dashboard: Dashboard) -> None:
    client = _signed_in(dashboard, "ops")
    out = subprocess.run([sys.executable, "-m", "compoundeye.cli", "token", "revoke", "ops-1"],
                         env=dashboard.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert client.get("/api/me").status_code == 401
    with dashboard.client() as again:
        assert sign_in(again, dashboard.tokens["ops"]).status_code == 401


def test_an_admin_lists_sessions_and_ends_them_all(dashboard: Dashboard) -> None:
    desk = _signed_in(dashboard, "operator")
    police = _signed_in(dashboard, "investigator")
    admin = {"Authorization": f"Bearer {dashboard.tokens['admin']}"}
    with dashboard.client(headers=admin) as api:
        listed = api.get("/api/sessions")
        assert listed.status_code == 200, listed.text
        names = {s["name"] for s in listed.json()}
        assert {"operator-1", "investigator-1"} <= names
        assert all("csrf" not in s for s in listed.json())
        assert desk.get("/api/sessions").status_code == 403  # admins only
        ended = api.delete("/api/sessions")
        assert ended.status_code == 200 and ended.json()["ended"] >= 2
        assert api.get("/api/sessions").json() == []
    assert desk.get("/api/me").status_code == 401
    assert police.get("/api/me").status_code == 401
