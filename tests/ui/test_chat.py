"""The chat over real HTTP: uvicorn on a loopback port serving the chat API and the Gradio
chat, driven by the ``openai`` client, ``httpx``, ``gradio_client`` and a real browser."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chat.conftest import ScriptedBackend, build_chat_template, make_router
from tests.conftest import REPO
from tests.live import chromium_path

SHOP = "Do you ship to Canada, and how long does delivery take?"
IN_TRAINING = "I am still waiting on my card?"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, _migrated_template: Path) -> Iterator[dict[str, Any]]:
    import os
    import shutil

    import gradio as gr
    import uvicorn
    from fastapi import FastAPI

    from infinstruct.chat.api import build_chat_api
    from infinstruct.core.ratelimit import RateLimiter
    from infinstruct.core.settings import load_settings
    from infinstruct.ui.chat import build_chat_ui

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    chat_template = build_chat_template(tmp_path_factory, _migrated_template)
    data_dir = tmp_path_factory.mktemp("chat-http") / "var"
    shutil.copytree(chat_template, data_dir)
    settings = load_settings(data_dir=data_dir, chat={"rate_limit_per_minute": 8})
    from infinstruct.core.corpus_visibility import set_visibility

    set_visibility(settings, "shop", "public")  # customers may see the shop's passages, not banking77's
    backend = ScriptedBackend()
    router = make_router(settings, backend)
    app = FastAPI()
    app.include_router(build_chat_api(router, RateLimiter(8)))
    app = gr.mount_gradio_app(app, build_chat_ui(router), path="/")
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.1)
    assert srv.started, f"the chat server did not start on {url} within 60 s"
    try:
        yield {"url": url, "settings": settings, "backend": backend}
    finally:
        srv.should_exit = True
        thread.join(timeout=10)


def test_api_chat_returns_the_tagged_answer_and_takes_feedback(server: dict[str, Any]) -> None:
    url = server["url"]
    first = httpx.post(f"{url}/api/chat", json={"message": SHOP}, timeout=60).json()
    assert first["route"] == "retrieval"
    assert set(first) >= {"answer", "route", "sources", "model_version", "latency_ms", "conversation_id"}
    # A customer's view: title and excerpt of public sources only; no corpus, task or score.
    assert first["sources"] and all(set(src) == {"title", "excerpt"} for src in first["sources"])
    assert "intent_confidence" not in first and "scores" not in first
    again = httpx.post(
        f"{url}/api/chat",
        json={"message": IN_TRAINING, "conversation_id": first["conversation_id"]},
        timeout=60,
    ).json()
    assert again["conversation_id"] == first["conversation_id"] and again["model_version"] == "dialogue-v1"
    rated = httpx.post(
        f"{url}/api/feedback",
        json={"turn_id": again["turn_id"], "rating": -1, "comment": "too vague"},
        timeout=30,
    )
    assert rated.status_code == 200, rated.text
    from infinstruct.chat.conversations import list_feedback

    assert list_feedback(server["settings"])[0]["comment"] == "too vague"
    too_long = httpx.post(f"{url}/api/chat", json={"message": "x" * 5000}, timeout=30)
    assert too_long.status_code == 413 and "max_input_chars" in too_long.json()["detail"]


def test_openai_client_works_against_v1(server: dict[str, Any]) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=f"{server['url']}/v1", api_key="anything")
    done = client.chat.completions.create(
        model="infinstruct", messages=[{"role": "user", "content": SHOP}], max_tokens=32
    )
    assert done.choices[0].message.content == "Scripted reply from dialogue-v1 ."
    assert done.model == "dialogue-v1"
    pieces = [
        c.choices[0].delta.content or ""
        for c in client.chat.completions.create(
            model="infinstruct", messages=[{"role": "user", "content": SHOP}], stream=True
        )
        if c.choices
    ]
    assert "".join(pieces).strip() == "Scripted reply from dialogue-v1 ."
    assert len([p for p in pieces if p]) > 1  # really streamed, piece by piece
    assert [m.id for m in client.models.list().data] == ["dialogue-v1"]


def test_gradio_client_asks(server: dict[str, Any]) -> None:
    from gradio_client import Client

    client = Client(server["url"] + "/", verbose=False)
    result = client.predict("Who painted the Mona Lisa?", None, api_name="/ask")
    assert result["route"] == "abstain" and result["conversation_id"]
    assert "don't know" in result["answer"]


def test_rate_limit_per_client(server: dict[str, Any]) -> None:
    url = server["url"]
    codes = [
        httpx.post(
            f"{url}/api/chat",
            json={"message": "Who painted the Mona Lisa?"},
            headers={"Authorization": "Bearer rate-test"},
            timeout=30,
        ).status_code
        for _ in range(9)
    ]
    assert codes[:8] == [200] * 8 and codes[8] == 429
    # another client is not affected
    assert (
        httpx.post(
            f"{url}/api/chat",
            json={"message": "hi there"},
            headers={"Authorization": "Bearer other"},
            timeout=30,
        ).status_code
        == 200
    )


@pytest.mark.browser
def test_browser_sees_streamed_answer_and_sources(server: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    chromium = Path(chromium_path())  # skips, or fails under CI=true, when it is missing
    shots = REPO / "var" / "test-artifacts"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(chromium),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            page = browser.new_page()
            page.goto(server["url"] + "/", timeout=60_000)
            page.locator("#chat-input textarea").fill(SHOP)
            page.locator("#chat-input textarea").press("Enter")
            page.get_by_text("Scripted reply from dialogue-v1").first.wait_for(timeout=60_000)
            page.get_by_text("Sources").first.wait_for(timeout=30_000)
            assert "help centre" in page.locator("#route-badge").inner_text()
            page.get_by_text("Sources").first.click()
            page.get_by_text("7 to 10 working days", exact=False).first.wait_for(timeout=30_000)
            page.screenshot(path=str(shots / "chat.png"), full_page=True)
        finally:
            browser.close()
