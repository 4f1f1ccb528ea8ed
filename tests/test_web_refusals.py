"""Walk the real app's route table: every protected page and API refuses the anonymous and
the wrong role. Routes added later are covered by construction."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from infinstruct.auth import users
from infinstruct.auth.web import refused_everyone, required_roles
from infinstruct.core.settings import Settings
from infinstruct.services import build_app


def _routes(routes: list, prefix: str = "") -> Iterator[tuple[str, str]]:  # type: ignore[type-arg]
    for route in routes:
        path = prefix + getattr(route, "path", "")
        sub = getattr(route, "routes", None)
        if sub:  # a mounted app (Gradio) or router: walk inside it too
            yield (path.rstrip("/") + "/", "GET")
            yield from _routes(sub, path.rstrip("/"))
            continue
        for method in sorted(getattr(route, "methods", None) or {"GET"}):
            if method != "HEAD":
                yield path, method


@pytest.fixture(scope="module")
def app_and_tokens(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from infinstruct.core.db import upgrade
    from infinstruct.core.settings import load_settings

    folder = tmp_path_factory.mktemp("refusals")
    settings: Settings = load_settings(data_dir=folder)
    upgrade(settings)
    tokens = {}
    for role in ("analyst", "operator"):
        users.add_user(settings, role, role=role, password=f"{role}-password")
        tokens[role] = users.issue_token(settings, role)
    return build_app(settings), tokens


def test_every_protected_route_refuses_anonymous_and_wrong_role(app_and_tokens) -> None:  # type: ignore[no-untyped-def]
    app, tokens = app_and_tokens
    client = TestClient(app)
    checked = 0
    for raw_path, method in _routes(app.routes):
        path = re.sub(r"\{[^}]+\}", "1", raw_path)
        blocked = refused_everyone(path)
        if blocked is not None:  # no identity may use it (deep links, public uploads)
            for headers in ({}, *({"authorization": f"Bearer {t}"} for t in tokens.values())):
                refused = client.request(method, path, headers=headers, follow_redirects=False)
                assert refused.status_code == blocked[0], (method, path, refused.status_code)
            continue
        roles = required_roles(path)
        if roles is None:
            continue
        checked += 1
        anonymous = client.request(method, path, follow_redirects=False)
        assert anonymous.status_code in (401, 303), (method, path, anonymous.status_code)
        for role, token in tokens.items():
            if role in roles:
                continue
            wrong = client.request(
                method, path, headers={"authorization": f"Bearer {token}"}, follow_redirects=False
            )
            assert wrong.status_code == 403, (role, method, path, wrong.status_code)
    assert checked >= 5, "the walk found too few protected routes: is the operator console mounted?"
