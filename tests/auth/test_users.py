from __future__ import annotations

import json

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from infinstruct.auth import users
from infinstruct.cli import app
from infinstruct.core.db import session_scope
from infinstruct.core.errors import AuthError, InputError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import User


def test_passwords_are_argon2_and_verify(settings: Settings) -> None:
    users.add_user(settings, "ana", role="analyst", password="correct horse")
    with session_scope(settings) as session:
        stored = session.exec(select(User)).one().password_hash
    assert stored.startswith("$argon2") and "correct horse" not in stored
    assert users.authenticate(settings, "ana", "correct horse").role == "analyst"
    with pytest.raises(AuthError, match="wrong username or password"):
        users.authenticate(settings, "ana", "wrong password")
    with pytest.raises(AuthError, match="wrong username or password"):
        users.authenticate(settings, "nobody", "whatever123")


def test_failures_never_lock_the_account_and_all_read_alike(settings: Settings) -> None:
    users.add_user(settings, "op", role="operator", password="long enough pw")
    messages = set()
    for name in ("op", "nobody") * 6:  # a stranger's wrong guesses, real name and unknown alike
        with pytest.raises(AuthError) as caught:
            users.authenticate(settings, name, "bad password!")
        messages.add(str(caught.value))
    assert messages == {users.LOGIN_FAILED}
    assert users.authenticate(settings, "op", "long enough pw").username == "op"  # the owner still can


def test_password_role_and_removal_end_web_sessions(settings: Settings) -> None:
    from infinstruct.auth.sessions import create_session, load_session

    owner = users.add_user(settings, "op", role="operator", password="long enough pw")
    for change in (
        lambda: users.set_password(settings, "op", "a new long pw"),
        lambda: users.set_role(settings, "op", "analyst"),
        lambda: users.remove_user(settings, "op"),
    ):
        principal = users.Principal(owner.user_id, "op", users.get_user(settings, "op").role)
        cookie, _ = create_session(settings, principal)
        assert load_session(settings, cookie) is not None
        change()
        assert load_session(settings, cookie) is None


def test_bad_role_short_password_and_tokens(settings: Settings) -> None:
    with pytest.raises(InputError, match="role must be one of"):
        users.add_user(settings, "x", role="boss", password="long enough pw")
    with pytest.raises(InputError, match="at least 10"):
        users.add_user(settings, "x", role="analyst", password="short")
    users.add_user(settings, "cust", role="customer", password="long enough pw")
    assert users.principal_for_token(settings, users.issue_token(settings, "cust")).role == "customer"
    users.add_user(settings, "ana", role="analyst", password="long enough pw")
    token = users.issue_token(settings, "ana")
    assert users.principal_for_token(settings, token).username == "ana"
    users.remove_user(settings, "ana")
    with pytest.raises(AuthError):
        users.principal_for_token(settings, token)
    with pytest.raises(AuthError):
        users.authenticate(settings, "ana", "long enough pw")


def test_users_cli(settings: Settings, cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    r = runner.invoke(app, ["users", "add", "olga", "--role", "operator", "--password", "s3cret-pass!"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "list", "--json"])
    assert json.loads(r.output) == [{"id": 1, "username": "olga", "role": "operator", "disabled": False}]
    r = runner.invoke(app, ["users", "token", "olga", "--json"])
    assert json.loads(r.output)["token"].startswith("ifs_")
    r = runner.invoke(app, ["users", "passwd", "olga", "--password", "another-pass!"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "remove", "olga"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["users", "add", "olga", "--role", "operator", "--password", "s3cret-pass!"])
    assert r.exit_code == 2 and "exists" in r.output


def test_sessions_end_when_idle_or_past_their_absolute_end(settings: Settings) -> None:
    from datetime import timedelta

    from infinstruct.auth.sessions import _key, create_session, load_session
    from infinstruct.core.tables import WebSession
    from infinstruct.core.tables._columns import utcnow

    owner = users.add_user(settings, "op", role="operator", password="long enough pw")
    idle, old = create_session(settings, owner)[0], create_session(settings, owner)[0]
    with session_scope(settings) as session:
        stale = session.get(WebSession, _key(idle))
        assert stale is not None
        stale.last_seen_at = utcnow() - timedelta(minutes=settings.server.session_idle_minutes + 1)
        expired = session.get(WebSession, _key(old))
        assert expired is not None
        expired.expires_at = utcnow() - timedelta(seconds=1)
        session.add_all([stale, expired])
    assert load_session(settings, idle) is None and load_session(settings, old) is None
    assert load_session(settings, create_session(settings, owner)[0]) is not None
