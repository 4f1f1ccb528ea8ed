"""A real OpenAI-compatible engine behind ``dialogue.backend: openai`` (issue 19).

The active version is exported as ``hf`` and served by ``transformers serve`` (the engine
that installs with transformers; vLLM's command for GPUs is in docs/chat.md). The router,
``/api/chat`` and ``/v1/chat/completions`` then answer through it with the same replies as
the local backend on the same weights (greedy; repetition control off on both sides, as the
engine does not know ours).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infinstruct.chat.backends import ModelProvider, default_factory
from infinstruct.chat.router import ChatRouter
from infinstruct.core.settings import Settings, load_settings
from infinstruct.core.tables import ModelVersion
from tests.chat.conftest import FIXED

pytestmark = pytest.mark.slow
QUESTIONS = ("Do you ship to Canada, and how long does delivery take?",)
SAME_GENERATION = {
    "temperature": 0.0,
    "repetition_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "dtype": "float32",
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def exported(chat_settings: Settings, tmp_path: Path) -> Path:
    """The base SmolLM2 registered and activated as a full version, exported as hf."""
    from infinstruct.core.registry import activate, register_version
    from infinstruct.core.tables import ModelVersion
    from infinstruct.dialogue import smollm2_hf_folder
    from infinstruct.dialogue.export import export_version

    folder = chat_settings.data_dir / "models" / "dialogue-engine"
    shutil.copytree(smollm2_hf_folder(chat_settings), folder)
    register_version(
        chat_settings,
        ModelVersion(
            name="dialogue-engine",
            kind="dialogue",
            base="smollm2",
            method="full",
            recipe="smollm2-base",
            metrics={},
            artefact_path=str(folder),
            status="candidate",
        ),
    )
    activate(chat_settings, "dialogue-engine")
    export_version(chat_settings, "dialogue-engine", "hf", tmp_path / "hf")
    return tmp_path / "hf"


@pytest.fixture
def engine(exported: Path) -> Iterator[str]:
    """``transformers serve`` on the exported folder; yields its /v1 URL."""
    port = _free_port()
    cli = shutil.which("transformers", path=str(Path(sys.executable).parent)) or "transformers"
    log = exported.parent / "engine.log"  # a file, not a pipe: an undrained pipe blocks the engine
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [cli, "serve", str(exported), "--host", "127.0.0.1", "--port", str(port)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},  # its access log is read while it runs
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
            try:
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("transformers serve did not come up within 180 s")
        yield f"{url}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:  # uvicorn waits on the clients' keep-alive connections
            proc.kill()
            proc.wait(timeout=10)


def _router(settings: Settings) -> ChatRouter:
    from infinstruct.chat.evidence import index_searcher
    from infinstruct.embeddings.embedder import load_embedder

    return ChatRouter(
        settings,
        models=ModelProvider(settings, factory=default_factory),
        embedder=load_embedder(settings),
        searcher=index_searcher(settings),
        recommender=None,
        thresholds=FIXED,
    )


def test_chat_api_and_v1_answer_through_the_engine(
    chat_settings: Settings, exported: Path, engine: str
) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from infinstruct.chat.api import build_chat_api

    local = load_settings(
        data_dir=chat_settings.data_dir, chat={"model_poll_s": 0.1}, dialogue=SAME_GENERATION
    )
    remote = load_settings(
        data_dir=chat_settings.data_dir,
        chat={"model_poll_s": 0.1},
        dialogue={
            **SAME_GENERATION,
            "backend": "openai",
            "openai_url": engine,
            "openai_model": str(exported),
        },
    )
    # The same messages give the same reply from the engine as from the local backend.
    messages = [{"role": "user", "content": QUESTIONS[0]}]
    local_backend = default_factory(local, _active(local))
    remote_backend = default_factory(remote, None)
    assert "".join(remote_backend.stream(messages, max_new_tokens=24)) == "".join(
        local_backend.stream(messages, max_new_tokens=24)
    )
    # The router and both HTTP surfaces answer through the engine. (Their prompts carry a
    # random data delimiter per call, so the text is compared above, not here.)
    router = _router(remote)
    app = FastAPI()
    app.include_router(build_chat_api(router))
    client = TestClient(app)
    log = exported.parent / "engine.log"

    def engine_calls() -> int:
        return log.read_text(errors="replace").count("POST /v1/chat/completions")

    for question in QUESTIONS:
        # Each surface reaches the engine (its access log counts the call); the answer is the
        # engine's reply, or a hand-off when the reply check rejected that reply.
        before = engine_calls()
        answer = router.ask(question, persist=False)
        assert engine_calls() > before
        assert answer.model_version == f"openai:{exported}" or answer.rejections, answer
        before = engine_calls()
        api = client.post("/api/chat", json={"message": question})
        assert api.status_code == 200 and engine_calls() > before, api.text
        before = engine_calls()
        v1 = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": question}]})
        assert v1.status_code == 200 and engine_calls() > before, v1.text


def _active(settings: Settings) -> ModelVersion | None:
    from infinstruct.core.registry import active_version

    return active_version(settings, "dialogue")
