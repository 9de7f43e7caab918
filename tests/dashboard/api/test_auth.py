"""Sign-in page, session cookie flags, CSRF on cookie writes, sign-out, audit of sign-ins."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from compoundeye.store import Store
from dashboard.auth.sessions import CSRF_COOKIE, SESSION_COOKIE
from tests.dashboard.conftest import bearer, open_alert


def _sign_in(client: TestClient, token: str, next_path: str = "") -> str:
    response = client.post("/auth/login", data={"token": token, "next": next_path},
                           follow_redirects=False)
    assert response.status_code == 303
    return str(response.headers["location"])


def test_sign_in_sets_a_strict_http_only_cookie(client: TestClient,
                                                tokens: dict[str, str]) -> None:
    page = client.get("/login?next=/cameras")
    assert page.status_code == 200 and 'value="/cameras"' in page.text
    response = client.post("/auth/login", data={"token": tokens["ops"], "next": "/cameras"},
                           follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/cameras"
    cookies = response.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in session and "SameSite=strict" in session.replace("Strict", "strict")
    csrf = next(c for c in cookies if c.startswith(CSRF_COOKIE + "="))
    assert "HttpOnly" not in csrf
    assert client.get("/api/me").json() == {"name": "ops-1", "role": "ops", "via": "session"}


def test_sign_in_goes_home_by_role_and_refuses_open_redirects(
        client: TestClient, tokens: dict[str, str]) -> None:
    assert _sign_in(client, tokens["investigator"]) == "/recordings"
    assert _sign_in(client, tokens["ops"], "https://evil.example/") == "/cameras"
    assert _sign_in(client, tokens["operator"], "//evil.example") == "/"


def test_bad_token_is_refused_and_audited(client: TestClient, tokens: dict[str, str]) -> None:
    response = client.post("/auth/login", data={"token": "ce_wrong"}, follow_redirects=False)
    assert response.status_code == 401
    assert "not valid" in response.text
    assert SESSION_COOKIE not in response.cookies
    _sign_in(client, tokens["admin"])
    # Failures are audited in bursts: one row with a count once the burst is over.
    assert client.app.state.ce.signin.flush(everything=True) == 1  # type: ignore[attr-defined]
    audit = client.get("/api/audit").json()
    actions = [e["action"] for e in audit]
    assert "auth.login_failed" in actions and "auth.login" in actions
    failed = next(e for e in audit if e["action"] == "auth.login_failed")
    assert failed["details"]["count"] == 1 and failed["ip"] == "127.0.0.1"
    login = next(e for e in audit if e["action"] == "auth.login")
    assert login["actor"] == "admin-1" and login["ip"] == "127.0.0.1"


def test_cookie_writes_need_the_csrf_header(client: TestClient, store: Store,
                                            tokens: dict[str, str]) -> None:
    alert_id = open_alert(store)
    _sign_in(client, tokens["operator"])
    missing = client.post(f"/api/alerts/{alert_id}/ack")
    assert missing.status_code == 403 and "X-CSRF-Token" in missing.json()["detail"]
    wrong = client.post(f"/api/alerts/{alert_id}/ack", headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    csrf = client.cookies.get(CSRF_COOKIE)
    assert csrf
    good = client.post(f"/api/alerts/{alert_id}/ack", headers={"X-CSRF-Token": csrf})
    assert good.status_code == 200
    # Reads with the cookie need no header; bearer writes need none either.
    assert client.get("/api/alerts").status_code == 200
    other = open_alert(store, key="other")
    client.cookies.clear()
    assert client.post(f"/api/alerts/{other}/ack",
                       headers=bearer(tokens["operator"])).status_code == 200


def test_sign_out_clears_the_session(client: TestClient, tokens: dict[str, str]) -> None:
    _sign_in(client, tokens["operator"])
    assert client.get("/api/me").status_code == 200
    response = client.post("/auth/logout", follow_redirects=False,
                           data={"csrf": client.cookies.get(CSRF_COOKIE) or ""})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    client.cookies.clear()  # the browser drops the expired cookies
    assert client.get("/api/me").status_code == 401


def test_forged_cookie_is_not_a_session(client: TestClient) -> None:
    client.cookies.set(SESSION_COOKIE, "eyJuIjoiYWRtaW4tMSIsInIiOiJhZG1pbiJ9.AAAA")
    assert client.get("/api/me").status_code == 401
    assert client.get("/audit", follow_redirects=False).status_code == 303


def test_a_revoked_token_ends_its_sessions(client: TestClient, tokens: dict[str, str],
                                           dash_settings: object) -> None:
    from compoundeye.auth.roles import Role
    from compoundeye.auth.tokens import add_token

    _sign_in(client, tokens["operator"])
    assert client.get("/api/me").status_code == 200
    path = client.app.state.ce.settings.effective_tokens_file  # type: ignore[attr-defined]
    add_token(path, "operator-1", Role.OPS)  # same name, new role: old sessions end
    assert client.get("/api/me").status_code == 401


def test_no_page_needs_the_internet(client: TestClient, tokens: dict[str, str]) -> None:
    assert client.get("/docs").status_code == 404  # Swagger UI would load a CDN
    assert client.get("/openapi.json").json()["info"]["title"] == "compoundeye dashboard"
    static = Path(__file__).resolve().parents[3] / "dashboard" / "static"
    for asset in static.iterdir():
        if asset.is_dir():
            continue  # vendor/: npm packages unchanged (their licences and docs cite URLs)
        text = asset.read_text().replace("http://www.w3.org/2000/svg", "")  # a name, no fetch
        assert "http://" not in text and "https://" not in text, asset.name
        if asset.suffix == ".html":  # every script is served by the dashboard itself
            for src in re.findall(r'<script[^>]*src="([^"]+)"', text):
                assert src.startswith("/static/"), (asset.name, src)
    vendored = {p.name for p in (static / "vendor").iterdir()}
    assert {"mpegts.js", "hls.light.min.js", "README.md"} <= vendored
