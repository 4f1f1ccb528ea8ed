"""Chat latency on loopback: p50/p95 per route and time to first token (TTFT), against a
plain LCEL ``retriever | prompt | llm`` chain with the same model (SmolLM2) and retriever.

Builds a temporary store from the chat test fixtures (a BANKING77 slice + shop dialogues),
serves both the router (``/v1/chat/completions``, streaming) and the baseline chain (an SSE
endpoint) with uvicorn on 127.0.0.1, and fires N concurrent streaming clients per route:
non-generating routes (curated, abstain) at 1/10/50 clients, generating routes (model,
retrieval) and the baseline at 1/10, max 32 new tokens. Prints a table, writes
``bench/results/chat.json``.

    python bench/chat/run.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
FIXTURES = REPO / "tests" / "chat" / "data"
QUESTIONS = {
    "curated": "What are your opening hours?",
    "abstain": "Who painted the Mona Lisa?",
    "model": "I am still waiting on my card?",
    "retrieval": "Do you ship to Canada, and how long does delivery take?",
}


class Ask(BaseModel):
    """The baseline endpoint's body (module level: FastAPI resolves annotations from globals)."""

    question: str


def build_store(folder: Path) -> Any:
    from infinstruct.chat.curation import add_curated
    from infinstruct.chat.thresholds import Thresholds, save_thresholds
    from infinstruct.connectors.ingest import ingest
    from infinstruct.core import registry
    from infinstruct.core.db import upgrade
    from infinstruct.core.settings import load_settings
    from infinstruct.core.tables import ModelVersion
    from infinstruct.dialogue import smollm2_hf_folder
    from infinstruct.finetune.instructions import build_instruction_set
    from infinstruct.retrieval.index_store import build_index

    settings = load_settings(data_dir=folder, dialogue={"max_new_tokens": 32})
    upgrade(settings)
    ingest(settings, FIXTURES / "banking77", corpus="banking77")
    report = build_instruction_set(settings)
    ingest(settings, FIXTURES / "shop" / "dialogues.jsonl", corpus="shop")
    build_index(settings)
    add_curated(settings, QUESTIONS["curated"], "We are open 9 to 5, Monday to Friday.")
    registry.register_version(
        settings,
        ModelVersion(
            name="dialogue-bench",
            kind="dialogue",
            base="smollm2",
            method="full",
            recipe="bench",
            artefact_path=str(smollm2_hf_folder(settings)),
            instruction_set_id=report["set_id"],
        ),
    )
    registry.activate(settings, "dialogue-bench")
    # The fixed thresholds the chat tests use: this bench measures speed, not calibration.
    save_thresholds(settings, Thresholds(curated=0.9, model=0.8, retrieval=0.35))
    return settings


def serve(settings: Any) -> tuple[str, Any]:
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import StreamingResponse

    from bench.chat.chain import baseline_chain
    from infinstruct.chat.api import build_chat_api
    from infinstruct.chat.service import build_chat_router
    from infinstruct.core.ratelimit import RateLimiter
    from infinstruct.retrieval.retriever import InfinstructRetriever

    router = build_chat_router(settings)
    backend, _ = router.models.backend()  # the same loaded model serves the baseline
    chain = baseline_chain(
        InfinstructRetriever(settings=settings, k=settings.chat.retrieval_k), backend, max_new_tokens=32
    )
    app = FastAPI()
    app.include_router(build_chat_api(router, RateLimiter(0)))

    @app.post("/baseline")
    def baseline(body: Ask) -> StreamingResponse:
        def gen() -> Any:
            for piece in chain.stream(body.question):
                yield f"data: {json.dumps({'content': piece})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(gen(), media_type="text/event-stream")

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server


def one_call(url: str, question: str, *, baseline: bool) -> tuple[float, float, str]:
    """(latency s, ttft s, route) of one streaming request."""
    import httpx

    started = time.perf_counter()
    ttft, route = float("nan"), "baseline"
    if baseline:
        request = {"url": f"{url}/baseline", "json": {"question": question}}
    else:
        request = {
            "url": f"{url}/v1/chat/completions",
            "json": {
                "model": "x",
                "stream": True,
                "max_tokens": 32,
                "messages": [{"role": "user", "content": question}],
            },
        }
    with httpx.stream("POST", timeout=600, **request) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            data = json.loads(line[6:])
            content = data.get("content") if baseline else (data["choices"][0]["delta"].get("content"))
            if content and ttft != ttft:
                ttft = time.perf_counter() - started
            if not baseline and data.get("infinstruct"):
                route = data["infinstruct"]["route"]
    return time.perf_counter() - started, ttft, route


def measure(url: str, question: str, clients: int, rounds: int, *, baseline: bool = False) -> dict[str, Any]:
    with ThreadPoolExecutor(clients) as pool:
        results = list(
            pool.map(lambda _: one_call(url, question, baseline=baseline), range(clients * rounds))
        )
    lat = sorted(r[0] * 1000 for r in results)
    ttft = sorted(r[1] * 1000 for r in results if r[1] == r[1])
    pct = lambda xs, q: xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")  # noqa: E731
    return {
        "clients": clients,
        "requests": len(results),
        "routes": sorted({r[2] for r in results}),
        "p50_ms": round(statistics.median(lat), 1),
        "p95_ms": round(pct(lat, 0.95), 1),
        "ttft_p50_ms": round(statistics.median(ttft), 1) if ttft else None,
        "ttft_p95_ms": round(pct(ttft, 0.95), 1) if ttft else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round per client (a smoke run)")
    args = parser.parse_args()
    rounds = 1 if args.quick else 3
    os.chdir(REPO)
    folder = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    try:
        settings = build_store(folder)
        url, server = serve(settings)
        rows: list[dict[str, Any]] = []
        for route in ("curated", "abstain"):
            for clients in (1, 10, 50):
                rows.append(
                    {"system": "router", "route": route, **measure(url, QUESTIONS[route], clients, rounds)}
                )
        for route in ("model", "retrieval"):
            for clients in (1, 10):
                rows.append(
                    {"system": "router", "route": route, **measure(url, QUESTIONS[route], clients, rounds)}
                )
        for clients in (1, 10):
            rows.append(
                {
                    "system": "lcel-baseline",
                    "route": "retrieval",
                    **measure(url, QUESTIONS["retrieval"], clients, rounds, baseline=True),
                }
            )
        server.should_exit = True
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"{'system':14} {'route':10} {'clients':>7} {'p50 ms':>9} {'p95 ms':>9} {'TTFT p50':>9} {'TTFT p95':>9}"
    )
    for r in rows:
        print(
            f"{r['system']:14} {r['route']:10} {r['clients']:>7} {r['p50_ms']:>9} {r['p95_ms']:>9} "
            f"{r['ttft_p50_ms']!s:>9} {r['ttft_p95_ms']!s:>9}"
        )
    out = REPO / "bench" / "results" / "chat.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    kept = json.loads(out.read_text()) if out.exists() else {}
    serving = {"serving": kept["serving"]} if "serving" in kept else {}  # bench/chat/serving.py's
    out.write_text(json.dumps({"rounds": rounds, "max_new_tokens": 32, "rows": rows, **serving}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
