"""Logins, roles, CSRF and tokens over the real app (FastAPI TestClient, a real SQLite store)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from infinstruct.auth import users
from infinstruct.auth.web import required_roles
from infinstruct.core.settings import Settings
from infinstruct.server import build_api


@pytest.fixture
def client(settings: Settings) -> TestClient:
    app = build_api(settings)

    @app.post("/api/operator/ping")
    def ping() -> dict[str, str]:
        return {"pong": "yes"}

    users.add_user(settings, "olga", role="operator", password="operator-pass")
    users.add_user(settings, "ana", role="analyst", password="analyst-pass")
    return TestClient(app)


def _login(client: TestClient, username: str, password: str) -> None:
    page = client.get("/login?next=/operator/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    r = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": csrf, "next": "/operator/"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_rules() -> None:
    assert required_roles("/") is None and required_roles("/healthz") is None
    assert required_roles("/operator/") == ("operator",)
    assert required_roles("/api/chat") is None
    assert required_roles("/api/jobs") == ("analyst", "operator")


def test_anonymous_is_redirected_or_refused(client: TestClient) -> None:
    r = client.get("/operator/", headers={"accept": "text/html"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/operator/"
    assert client.post("/api/operator/ping").status_code == 401


def test_session_role_and_csrf(client: TestClient) -> None:
    _login(client, "olga", "operator-pass")
    assert client.post("/api/operator/ping").status_code == 403  # cookie but no CSRF proof
    csrf = client.get("/api/whoami").json()["csrf"]
    assert client.post("/api/operator/ping", headers={"x-csrf-token": csrf}).json() == {"pong": "yes"}
    assert client.post("/api/operator/ping", headers={"x-csrf-token": "forged"}).status_code == 403
    origin = {"origin": "http://testserver"}
    assert client.post("/api/operator/ping", headers=origin).status_code == 200
    assert client.post("/api/operator/ping", headers={"origin": "http://evil.example"}).status_code == 403


def test_wrong_role_is_refused(client: TestClient) -> None:
    _login(client, "ana", "analyst-pass")
    assert client.get("/operator/", headers={"accept": "text/html"}).status_code == 403


def test_bad_login_and_forged_form(client: TestClient) -> None:
    page = client.get("/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    assert (
        client.post("/login", data={"username": "olga", "password": "nope", "csrf": csrf}).status_code == 401
    )
    assert (
        client.post("/login", data={"username": "olga", "password": "operator-pass", "csrf": "x"}).status_code
        == 403
    )


def test_api_token(client: TestClient, settings: Settings) -> None:
    token = users.issue_token(settings, "olga")
    ok = client.post("/api/operator/ping", headers={"authorization": f"Bearer {token}"})
    assert ok.json() == {"pong": "yes"}  # bearer requests need no CSRF: browsers never add them
    assert client.post("/api/operator/ping", headers={"authorization": "Bearer wrong"}).status_code == 401


def test_open_redirect_is_refused(client: TestClient) -> None:
    page = client.get("/login?next=//evil.example/x")
    assert 'name="next" value="/"' in page.text
