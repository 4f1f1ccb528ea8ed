"""Issue 15's probes, each as the outsider (or role) sent it, against one live server.

Each test names its probe number. The answer asserted is the one a secure server gives:
400/401/403/404/413/429, the session ended, nothing stored, the fetch refused, no hang.
The last test stops the server (SIGTERM with a request in flight), so it stays last.
"""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import threading
import time

import httpx
import pytest

from tests.security.conftest import PASSWORDS, RATE_LIMIT, Server

QUESTION = "How do I reset my card PIN?"


def _completion(server: Server, who: str, **extra: object) -> httpx.Response:
    body = {"messages": [{"role": "user", "content": QUESTION}], **extra}
    return httpx.post(f"{server.url}/v1/chat/completions", json=body, headers=server.bearer(who), timeout=120)


def _login(client: httpx.Client, username: str, password: str) -> httpx.Response:
    page = client.get("/login", params={"next": "/operator/"})
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None, page.text
    form = {"username": username, "password": password, "csrf": csrf.group(1), "next": "/operator/"}
    return client.post("/login", data=form)


def _browser(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)


def _logged_in(server: Server, username: str) -> httpx.Client:
    client = _browser(server)
    response = _login(client, username, PASSWORDS[username])
    assert response.status_code == 303, response.text
    assert client.get("/operator/").status_code == 200
    return client


# -- 1. one request stops every answer --------------------------------------------------
def test_1_bad_max_tokens_is_400_and_the_next_client_is_still_answered(server: Server) -> None:
    """``max_tokens: -1`` once wedged the generate thread and every later answer with it."""
    first: dict[str, httpx.Response | Exception] = {}

    def bad() -> None:
        try:
            first["response"] = _completion(server, "cust", max_tokens=-1)
        except httpx.HTTPError as exc:  # a hang: the second client decides the verdict
            first["response"] = exc

    thread = threading.Thread(target=bad, daemon=True)
    thread.start()
    thread.join(timeout=30)
    response = first.get("response")
    assert isinstance(response, httpx.Response) and response.status_code == 400, response
    assert "max_tokens" in response.json()["error"]["message"]
    for wrong in (0, 10**6):
        assert _completion(server, "cust", max_tokens=wrong).status_code == 400
    second = _completion(server, "carol", max_tokens=8)
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["choices"][0]["message"]["content"].strip()
    usage = body["usage"]
    assert usage["prompt_tokens"] > 0, usage  # counted by the model's tokenizer, not zeros
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


# -- 2. sessions cannot be ended ---------------------------------------------------------
def test_2_logout_ends_the_session_for_the_old_cookie(server: Server) -> None:
    client = _logged_in(server, "olga")
    stolen = dict(client.cookies)
    assert client.post("/logout").status_code == 303
    replay = _browser(server)
    replay.cookies.update(stolen)
    assert replay.get("/operator/").status_code == 401
    assert replay.get("/api/whoami").status_code == 401  # it once still named the user


def test_2_removing_or_demoting_a_user_ends_their_sessions(server: Server) -> None:
    from infinstruct.auth import users

    oscar, otto = _logged_in(server, "oscar"), _logged_in(server, "otto")
    users.remove_user(server.settings, "oscar")  # what `infinstruct users remove oscar` runs
    users.set_role(server.settings, "otto", "analyst")  # `infinstruct users role otto analyst`
    assert oscar.get("/operator/").status_code == 401
    assert oscar.get("/api/whoami").status_code == 401
    assert otto.get("/operator/").status_code == 401


# -- 3. anyone can upload anything -------------------------------------------------------
def _files_under(folder):  # type: ignore[no-untyped-def]
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_3_the_public_chat_takes_no_upload_and_operator_uploads_are_capped(server: Server) -> None:
    temp = server.settings.data_dir / "tmp" / "gradio"
    before = _files_under(temp)
    anonymous = httpx.post(
        f"{server.url}/gradio_api/upload", files={"files": ("a.txt", b"x" * 100_000)}, timeout=30
    )
    assert anonymous.status_code == 403, anonymous.text
    too_big = httpx.post(
        f"{server.url}/operator/gradio_api/upload",
        files={"files": ("big.txt", b"y" * (2 * 2**20))},  # the server's cap is 1 MiB
        headers=server.bearer("operator"),
        timeout=30,
    )
    assert too_big.status_code == 413, too_big.text
    assert _files_under(temp) == before


# -- 4. X-Forwarded-For and separate budgets ---------------------------------------------
def test_4_one_budget_per_client_whatever_the_header_or_endpoint(server: Server) -> None:
    """Anonymous requests spread over feedback, recommend and chat share one budget, and a
    forwarded header from an untrusted peer does not buy a new one."""
    endpoints = [
        ("POST", "/api/feedback", {"json": {"turn_id": 999999, "rating": 1}}),
        ("GET", "/api/recommend", {"params": {"text": "a quiet thriller"}}),
    ]
    statuses = []
    for n in range(RATE_LIMIT):
        method, path, kwargs = endpoints[n % len(endpoints)]
        headers = {"x-forwarded-for": f"203.0.113.{n}"}
        statuses.append(httpx.request(method, f"{server.url}{path}", headers=headers, timeout=60, **kwargs))
    assert all(r.status_code != 429 for r in statuses), [r.status_code for r in statuses]
    for method, path, kwargs in [*endpoints, ("POST", "/api/chat", {"json": {"message": QUESTION}})]:
        over = httpx.request(
            method, f"{server.url}{path}", headers={"x-forwarded-for": "198.51.100.7"}, timeout=60, **kwargs
        )
        assert over.status_code == 429, (path, over.status_code, over.text)


# -- 5. anyone can lock any account ------------------------------------------------------
def test_5_a_stranger_cannot_lock_the_owner_out_nor_learn_which_names_exist(server: Server) -> None:
    owner = _logged_in(server, "olga")  # the owner's browser: it keeps its device cookie
    owner.cookies.delete("infinstruct_session")
    stranger = _browser(server)
    seen: dict[str, list[int]] = {"olga": [], "ghost": []}
    lines = set()
    for name in ("olga", "ghost") * 6:
        response = _login(stranger, name, "not the password")
        seen[name].append(response.status_code)
        lines.add(_error_line(response.text))
    assert len(lines) == 1, lines  # one message, real account or not, throttled or not
    assert set(seen["olga"]) <= {401, 429} and set(seen["ghost"]) <= {401, 429}, seen
    assert 429 in seen["olga"] and 429 in seen["ghost"], seen  # the stranger is slowed down
    again = _login(owner, "olga", PASSWORDS["olga"])
    assert again.status_code == 303, again.text  # but the owner is not locked out


def _error_line(page: str) -> str:
    found = re.search(r'<p class="err">([^<]*)</p>', page)
    return found.group(1) if found else page[:200]


# -- 6. unbounded /v1 history and bodies ---------------------------------------------------
def test_6_history_and_bodies_are_bounded(server: Server) -> None:
    huge = [{"role": "user", "content": "x" * 200_000}, {"role": "user", "content": QUESTION}]
    started = time.monotonic()
    response = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"messages": huge},
        headers=server.bearer("chris"),
        timeout=60,
    )
    assert response.status_code == 413, response.text
    assert time.monotonic() - started < 10  # refused before any model time
    many = [{"role": "user", "content": "hi"}] * 500
    response = httpx.post(
        f"{server.url}/v1/chat/completions",
        json={"messages": many},
        headers=server.bearer("chris"),
        timeout=60,
    )
    assert response.status_code == 413, response.text
    body = "username=olga&password=" + "p" * (4 * 2**20)
    login = httpx.post(
        f"{server.url}/login",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=60,
    )
    assert login.status_code == 413


# -- 7. from the code ----------------------------------------------------------------------
def test_7_recommendations_for_a_user_need_that_user_or_an_operator(server: Server) -> None:
    url = f"{server.url}/api/recommend"
    assert httpx.get(url, params={"user": "42"}, timeout=30).status_code == 401
    assert httpx.get(url, params={"user": "42"}, headers=server.bearer("cora"), timeout=30).status_code == 403
    allowed = httpx.get(url, params={"user": "42"}, headers=server.bearer("operator"), timeout=60)
    assert allowed.status_code not in (401, 403, 429), allowed.text  # no catalogue here: 400


def test_7_deep_links_are_off(server: Server) -> None:
    for path in ("/gradio_api/deep_link", "/operator/gradio_api/deep_link"):
        response = httpx.get(
            f"{server.url}{path}",
            params={"session_hash": "abc"},
            headers=server.bearer("operator"),
            timeout=30,
        )
        assert response.status_code == 404, (path, response.status_code)


def test_customer_tokens_authenticate_openai_clients_and_open_nothing_else(server: Server) -> None:
    from openai import AuthenticationError, OpenAI

    with pytest.raises(AuthenticationError):  # api_key="any" is refused, not ignored
        OpenAI(base_url=f"{server.url}/v1", api_key="any", max_retries=0).models.list()
    client = OpenAI(base_url=f"{server.url}/v1", api_key=server.tokens["cora"], max_retries=0)
    assert client.models.list().data
    for path in ("/api/jobs", "/operator/", "/analyst/"):
        assert httpx.get(f"{server.url}{path}", headers=server.bearer("cora"), timeout=30).status_code == 403


# -- 1 (shutdown): SIGTERM ends the server within 10 s with a request in flight -----------
def test_1_sigterm_stops_the_server_within_10_s_with_a_request_in_flight(server: Server) -> None:
    thread = threading.Thread(
        target=lambda: _swallow(lambda: _completion(server, "cora", max_tokens=16)), daemon=True
    )
    thread.start()
    time.sleep(0.5)  # not synchronisation: any moment of the request will do
    started = time.monotonic()
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pytest.fail("serve was still running 10 s after SIGTERM")
    assert time.monotonic() - started < 10


def _swallow(call) -> None:  # type: ignore[no-untyped-def]
    with contextlib.suppress(httpx.HTTPError):  # the server going away is the point
        call()
