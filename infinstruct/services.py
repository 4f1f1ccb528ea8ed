"""The composition root: wires each part's implementation to the platform's protocols.

Only this module and ``infinstruct/cli.py`` import several parts. Nothing is built at
import time; each ``build_*`` constructs on call, heavy imports inside.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infinstruct.core.registry import Gate
from infinstruct.core.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from infinstruct.alerts.feeds import FeedReader
    from infinstruct.chat.router import ChatRouter
    from infinstruct.core.protocols import Ingestor, InstructionBuilder
    from infinstruct.dialogue.loading import ArtefactFormats
    from infinstruct.embeddings.embedder import Embedders
    from infinstruct.recommend.service import Recommenders
    from infinstruct.retrieval.index_store import IndexCache
    from infinstruct.ui.operator import OperatorBackend

log = logging.getLogger(__name__)

#: Small permissively licensed slices committed for the quickstart and fast tests.
SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"


def model_formats() -> ArtefactFormats:
    """Version formats the parts define (finetune's bottleneck adapters), for the dialogue
    loader: passed to whatever loads model versions (the chat's backends, export)."""
    from infinstruct.finetune.training.bottleneck import artefact_formats

    return artefact_formats()


def last_method_comparison(settings: Settings) -> dict[str, Any] | None:
    """The last ``infinstruct train compare`` result (None before the first)."""
    from infinstruct.finetune.training.compare import load_last_comparison

    return load_last_comparison(settings)


def method_comparison_markdown(settings: Settings) -> str:
    """The last comparison as the console shows it ('' before the first)."""
    from infinstruct.finetune.training.compare import render_table

    last = last_method_comparison(settings)
    if last is None:
        return ""
    head = (
        f"**{last['recipe']}**, {last['steps']} steps, seed {last['seed']}, "
        f"{last['examples']['train']} training / {last['examples']['validation']} validation examples "
        f"({last['created_at']}{'' if last.get('finished', True) else ', still running'})"
    )
    return head + "\n\n" + render_table(last)


def build_gate(settings: Settings) -> Gate | None:
    """The registry gate (re-evaluates the active model on the candidate's test split)."""
    from infinstruct.finetune.training.gate import build_gate as build_training_gate

    return build_training_gate(settings)


def build_ingestor(settings: Settings) -> Ingestor:
    """Loads files, folders and URLs into the store (``connectors.ingest``)."""
    from infinstruct.connectors.ingest import ingest
    from infinstruct.core.ingest_report import IngestReport

    def run(
        source: str | Path,
        *,
        connector: str | None = None,
        corpus: str | None = None,
        domain: str | None = None,
        strict: bool = False,
    ) -> IngestReport:
        return ingest(
            settings,
            source,
            connector=connector,
            corpus=corpus,
            domain=domain,
            strict=strict,
            show_progress=False,
        )

    return run


def preview_ingest(
    settings: Settings,
    path: str | Path,
    *,
    connector: str | None = None,
    mapping: dict[str, str] | None = None,
    agent_roles: list[str] | None = None,
    score_thresholds: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """What loading ``path`` would do, loading nothing: the ``ingest --dry-run --json`` dict.

    The console runs as the server: like a load, a preview only reads uploads, paths inside
    ``ingest.import_roots`` and public URLs (``uploads.check_operator_source``), so it cannot
    show the first rows of a server file to whoever holds an operator session.
    """
    from infinstruct.connectors.preview import preview
    from infinstruct.core.uploads import check_operator_source

    return preview(
        settings,
        check_operator_source(settings, str(path)),
        connector=connector,
        columns=mapping,
        agent_roles=agent_roles,
        score_thresholds=score_thresholds,
    )


#: Sample folders that need a connector or domain named (the help centre's articles are
#: title/text/date rows, which detection would take for finance news).
DEMO_SAMPLE_OPTIONS: dict[str, dict[str, str]] = {"help_centre": {"connector": "news", "domain": "support"}}
#: Sample corpora customers may see quoted: the help centre's articles and the item catalogue.
DEMO_PUBLIC = ("help_centre", "items")


def _demo_ingest(settings: Settings) -> Any:
    """Every folder of the bundled samples, one corpus each (a re-run adds nothing); the
    help centre and the item catalogue are marked public, everything else stays internal."""
    from infinstruct.core.corpus_visibility import set_visibility

    ingest = build_ingestor(settings)
    folders = sorted(p for p in SAMPLES_DIR.iterdir() if p.is_dir()) if SAMPLES_DIR.is_dir() else []
    loaded: dict[str, Any] = {}
    for p in folders:
        options = DEMO_SAMPLE_OPTIONS.get(p.name, {})
        report = ingest(
            p, corpus=f"sample-{p.name}", connector=options.get("connector"), domain=options.get("domain")
        )
        loaded[p.name] = report["loaded"]
        if p.name in DEMO_PUBLIC:
            set_visibility(settings, f"sample-{p.name}", "public")
    return loaded


#: The default watchlist of the demo: topics the sample news mentions (every analyst sees
#: it until they save a topic of their own).
DEMO_WATCHLIST = (("China", "keyword"), ("Fed", "keyword"), ("bank", "keyword"))


def _demo_alerts(settings: Settings, smoke: bool) -> Any:
    """Follow a few topics of the sample news as the default watchlist, then run the alert
    job once so the analyst's first view has scores, trends and a last-run time."""
    import contextlib
    import secrets

    from infinstruct.alerts.pipeline import run_once
    from infinstruct.alerts.watchlists import DEFAULT_WATCHLIST_USER, add_watch
    from infinstruct.auth import users
    from infinstruct.core.errors import InfinstructError

    # Nobody logs in as this user: it only owns the default watchlist (a re-run finds it there).
    with contextlib.suppress(InfinstructError):
        users.add_user(settings, DEFAULT_WATCHLIST_USER, role="analyst", password=secrets.token_urlsafe(24))
    for topic, kind in DEMO_WATCHLIST:
        add_watch(settings, DEFAULT_WATCHLIST_USER, topic, kind=kind)
    report = run_once(settings, reader=None, deliver=False, trigger="demo")
    return {
        "topics": [t for t, _ in DEMO_WATCHLIST],
        "items": report["items"],
        "alerts": len(report["alerts"]),
    }


def build_instruction_builder(settings: Settings) -> InstructionBuilder:
    """Builds instruction-set versions from the store (``finetune.instructions``)."""
    from infinstruct.finetune.instructions import build_instruction_set

    def build(*, name: str = "default") -> dict[str, Any]:
        return build_instruction_set(settings, name=name)

    return build


def build_feed_reader(settings: Settings) -> FeedReader:
    """Reads a feed (URL, file or drop folder) into news documents for the alerts (connectors)."""
    from infinstruct.connectors.fetch import load_feed

    def read(uri: str, *, kind: str, corpus: str) -> dict[str, Any]:
        return load_feed(settings, uri, corpus=corpus)

    return read


def _demo_instructions(settings: Settings) -> Any:
    from infinstruct.finetune.instructions.builder import EmptyStoreError

    try:
        report = build_instruction_builder(settings)(name="default")
    except EmptyStoreError as exc:  # nothing loaded yet: the demo still serves
        return f"skipped: {exc}"
    return {
        "version": report["version"],
        "examples": report["examples"],
        "by_task_lang": report["by_task_lang"],
    }


def recipe_summary(settings: Settings, recipe: str) -> dict[str, Any]:
    """A recipe's method, base model, steps and data in a few words (the console's summary)."""
    from infinstruct.finetune.training.config import read_recipe, recipe_path

    path = recipe_path(settings, recipe)
    if read_recipe(path).get("kind") == "sentiment":
        from infinstruct.finetune.sentiment.config import load_config as load_sentiment

        config, _ = load_sentiment(settings, recipe)
        steps = config.optim.max_steps or f"{config.optim.epochs} epochs"
        return {
            "description": config.description,
            "kind": "sentiment",
            "method": "classifier head fine-tuning",
            "base model": config.model.base,
            "steps": steps,
            "data": ", ".join(config.data.corpora) or "all labelled corpora",
            "file": str(path),
        }
    from infinstruct.finetune.training.config import load_config

    cfg = load_config(settings, recipe)
    data = f"instruction set {cfg.data.set_name}, domains {', '.join(cfg.data.domains or ['all'])}"
    return {
        "description": cfg.description,
        "kind": "dialogue",
        "method": cfg.method.name,
        "base model": cfg.model.base,
        "steps": cfg.total_steps,
        "data": data + (f", at most {cfg.data.max_train} examples" if cfg.data.max_train else ""),
        "file": str(path),
    }


def build_trial(settings: Settings, chat_router: ChatRouter) -> Callable[[str, str], dict[str, Any]]:
    """The console's Try tab: one question to any dialogue version beside the active one.

    Holds at most one tried version (so at most two dialogue models are loaded, the active
    one included); nothing is stored: no conversation, feedback or hand-off.
    """
    from infinstruct.chat.backends import ModelProvider
    from infinstruct.chat.router import ChatRouter
    from infinstruct.core.registry import get_version

    class _Pinned(ModelProvider):
        def __init__(self, version: Any) -> None:
            # the chat's pool: the tried version and the active one count against one capacity
            super().__init__(settings, factory=chat_router.models.factory, pool=chat_router.models.pool)
            self._pinned = version

        def refresh(self, *, force: bool = False) -> Any:
            return self._pinned

    def router_for(models: ModelProvider) -> ChatRouter:
        router = ChatRouter(
            settings,
            models=models,
            embedder=chat_router.embedder,
            searcher=chat_router.searcher,
            recommender=chat_router.recommender,
        )
        router.record_handoffs = False
        return router

    active_router = router_for(chat_router.models)  # shares the chat's loaded model
    tried: dict[str, ChatRouter] = {}
    lock = threading.Lock()

    def trial(name: str, question: str) -> dict[str, Any]:
        version = get_version(settings, name)
        active = chat_router.models.version
        with lock:
            if active is not None and active.name == version.name:
                router = active_router
            elif name not in tried:
                tried.clear()  # the previous tried model goes before the next one loads
                tried[name] = router_for(_Pinned(version))
            router = tried.get(name, active_router)
        answer = router.ask(question, persist=False, client="operator-try")
        base = active_router.ask(question, persist=False, client="operator-try")
        return {"tried": answer.as_dict(), "active": base.as_dict()}

    return trial


def build_operator_backend(settings: Settings, chat_router: ChatRouter | None = None) -> OperatorBackend:
    """What the operator console calls: connectors, corpus versions, instruction stats, recipes."""
    from infinstruct.connectors import corpora, registry
    from infinstruct.ui.operator import OperatorBackend

    def instruction_stats() -> dict[str, Any]:
        from infinstruct.finetune.instructions import latest_set

        latest = latest_set(settings)
        return {
            "name": latest.name,
            "version": latest.version,
            "stale": latest.stale,
            "report": latest.report,
        }

    def recipes() -> list[str]:
        from infinstruct.core.config_layers import recipe_files

        return list(recipe_files(settings.finetune.recipes_dir))

    return OperatorBackend(
        connector_names=registry.names,
        list_corpora=lambda: corpora.list_corpora(settings),
        show_corpus=lambda name: corpora.show_corpus(settings, name),
        rollback_corpus=lambda name, version: corpora.rollback(settings, name, version),
        instruction_stats=instruction_stats,
        recipes=recipes,
        gate=build_gate(settings),
        settings=settings,
        recipe_summary=lambda name: recipe_summary(settings, name),
        preview_ingest=lambda path, **kw: preview_ingest(settings, path, **kw),
        trial=build_trial(settings, chat_router) if chat_router is not None else None,
        method_comparison=lambda: method_comparison_markdown(settings),
    )


@dataclass(frozen=True)
class Caches:
    """What one process loads once and shares: the sentence embedders, the retrieval indexes
    and the recommenders (which encode with those embedders). ``build_app`` makes one and
    hands it to every part it wires; nothing below keeps a module-level cache."""

    embedders: Embedders
    indexes: IndexCache
    recommenders: Recommenders


def build_caches() -> Caches:
    from infinstruct.embeddings.embedder import Embedders
    from infinstruct.recommend.service import Recommenders
    from infinstruct.retrieval.index_store import IndexCache

    embedders = Embedders()
    return Caches(embedders, IndexCache(), Recommenders(embedders))


def build_router(settings: Settings, caches: Caches | None = None) -> ChatRouter:
    """The chat's answer router over the real embedder, index, registry and recommender."""
    from infinstruct.chat.backends import factory_with
    from infinstruct.chat.service import build_chat_router

    shared = caches or build_caches()
    return build_chat_router(
        settings,
        backend_factory=factory_with(model_formats()),
        embedders=shared.embedders,
        indexes=shared.indexes,
        recommenders=shared.recommenders,
    )


def build_chat_ui(
    settings: Settings, router: ChatRouter | None = None, *, limiter: Any = None, caches: Caches | None = None
) -> Any:
    """The customers' Gradio chat (``ui.chat``) over ``router``, with the recommender tab;
    ``limiter`` is the server's one ``RateLimiter`` (the web chat shares the API's budget)."""
    from infinstruct.chat.evidence import platform_recommender
    from infinstruct.ui.chat import build_chat_ui as build

    shared = caches or build_caches()
    return build(
        router or build_router(settings, shared),
        recommend=platform_recommender(settings, recommenders=shared.recommenders),
        limiter=limiter,
    )


def build_app(settings: Settings) -> FastAPI:
    """The one web app: ``/`` chat, ``/analyst/``, ``/operator/``, ``/api/…``, ``/v1/…``, ``/healthz``.

    Access rules for every path live in ``auth.web.ACCESS_RULES``.
    """
    import os

    from infinstruct.core.uploads import gradio_temp_dir

    # Offline-first: Gradio's usage analytics would phone home from every page load.
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    # Uploads in flight live under the data dir (not a shared /tmp); the console deletes each
    # once it is stored or refused (uploads.store_upload).
    os.environ["GRADIO_TEMP_DIR"] = str(gradio_temp_dir(settings))
    import gradio as gr

    from infinstruct.alerts.serve import attach_scheduler
    from infinstruct.auth.web import gradio_username
    from infinstruct.chat.api import build_chat_api
    from infinstruct.core.ratelimit import RateLimiter
    from infinstruct.recommend.api import build_recommend_router
    from infinstruct.server import build_api, warm_up_on_start
    from infinstruct.ui.analyst import build_analyst_app
    from infinstruct.ui.operator import build_operator_app

    app = build_api(settings)
    # ONE limiter for every anonymous channel: using several of them does not add budgets.
    limiter = RateLimiter(settings.chat.rate_limit_per_minute)
    caches = build_caches()  # one embedder, index and recommender per corpus for the whole app
    app.include_router(build_recommend_router(settings, limiter=limiter, recommenders=caches.recommenders))
    chat_router = build_router(settings, caches)
    app.include_router(build_chat_api(chat_router, limiter))  # /api/chat, /api/feedback, /v1/...
    upload_cap = f"{settings.server.max_upload_mb}mb"  # Gradio stops reading past it
    operator = build_operator_app(settings, build_operator_backend(settings, chat_router))
    app = gr.mount_gradio_app(
        app, operator, path="/operator", auth_dependency=gradio_username, max_file_size=upload_cap
    )
    analyst = build_analyst_app(settings)
    app = gr.mount_gradio_app(
        app, analyst, path="/analyst", auth_dependency=gradio_username, max_file_size=upload_cap
    )
    # scheduler.run_in_serve: each web worker competes for the scheduler lease; one leads.
    attach_scheduler(app, settings, reader=lambda: build_feed_reader(settings))
    # The chat at "/" goes last: a mount at the root matches every path after it.
    app = gr.mount_gradio_app(
        app, build_chat_ui(settings, chat_router, limiter=limiter, caches=caches), path="/"
    )
    return warm_up_on_start(app, lambda: warm_chat(chat_router))


def warm_chat(router: ChatRouter) -> None:
    """Load what the first reply needs before /healthz says ready: the embedder, the index,
    the active dialogue model (one token generated so the first real reply is not slower)."""
    from infinstruct.core.errors import InfinstructError

    started = time.monotonic()
    router.embedder.embed(["warm up"])
    if router.searcher is not None:
        try:
            router.searcher("warm up", 1, "hybrid")
        except InfinstructError as exc:  # no index yet: retrieval answers once one is built
            log.info("warm-up: no retrieval index yet (%s)", exc)
    if router.models.version is not None or router.settings.dialogue.backend != "local":
        backend, name = router.models.backend()
        for _ in backend.stream([{"role": "user", "content": "hello"}], max_new_tokens=1):
            pass
        log.info("warm-up: %s loaded", name)
    log.info("warm-up done in %.1fs", time.monotonic() - started)


def run_server(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    from infinstruct.core.db import ensure_schema

    ensure_schema(settings)
    from infinstruct.dialogue.backend import stop_all_generation

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            # Running replies end at their next token, so SIGTERM never waits on a long
            # generation; connections still open after 5 s are closed.
            stop_all_generation()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        build_app(settings),
        host=host or settings.server.host,
        port=port or settings.server.port,
        log_level="warning",
        timeout_graceful_shutdown=5,
        # X-Forwarded-For/-Proto count only from server.trusted_proxies (uvicorn otherwise
        # believes any loopback peer, and a header could reset every per-client limit).
        proxy_headers=bool(settings.server.trusted_proxies),
        forwarded_allow_ips=settings.server.trusted_proxies or None,
    )
    server = _Server(config)
    threading.Thread(target=_announce, args=(server, config), daemon=True).start()
    server.run()


def _announce(server: Any, config: Any) -> None:
    """Print "serving on http://…" once the port is open and the models are loaded."""
    import sys

    while not server.should_exit:
        if server.started and getattr(config.app.state, "ready", True):
            sys.stdout.write(f"serving on http://{config.host}:{config.port}\n")
            sys.stdout.flush()
            return
        time.sleep(0.2)


@dataclass(frozen=True)
class DemoStep:
    name: str
    run: Callable[[Settings, bool], Any]  # (settings, smoke) -> a short report for the log


#: What the demo trains: the default dialogue model, and the sentiment classifier on the
#: bundled tweets. ``--smoke`` swaps in a few steps of ``tiny-scratch`` and of the classifier
#: so the whole path still runs (tokenizer, model, registry, activation) in about a minute.
DEMO_DIALOGUE_RECIPE = "smollm2-lora"
#: The recipe trains reply skills only, but the bundled samples hold four reply conversations
#: (nothing to validate on), so the demo's model learns every sample skill; the reply check
#: keeps any label it writes from reaching a customer.
DEMO_DIALOGUE = (DEMO_DIALOGUE_RECIPE, {"data.tasks": None})
SMOKE_DIALOGUE = (
    "tiny-scratch",
    {"pretrain.steps": 4, "optim.max_steps": 4, "optim.warmup_steps": 1, "eval.generate": 0},
)
DEMO_SENTIMENT_RECIPE = "sentiment-minilm"
DEMO_SENTIMENT = {
    "data.corpora": ["sample-twitter_financial_news"],
    "eval.subsets": {},
    "eval.baseline": False,
}
SMOKE_SENTIMENT = {**DEMO_SENTIMENT, "optim.max_steps": 4}


def _demo_intent_answers(settings: Settings) -> Any:
    """The sample answers of a few intents (``samples/intent_answers.csv``), once."""
    from infinstruct.chat.curation import import_intent_answers, intent_answers

    path = SAMPLES_DIR / "intent_answers.csv"
    if not path.exists() or intent_answers(settings):
        return "kept the curated intent answers"
    return import_intent_answers(settings, path, approved_by="demo")


def _demo_index(settings: Settings, smoke: bool) -> Any:
    """Chunk, embed and index what the demo loaded (incremental; retrieval part)."""
    from infinstruct.retrieval.index_store import build_index

    return build_index(settings)


def _train_and_activate(settings: Settings, kind: str, recipe: str, overrides: dict[str, Any]) -> Any:
    """Train ``recipe`` unless a model of ``kind`` is already active (a re-run keeps it)."""
    from infinstruct.core.registry import activate, active_version
    from infinstruct.finetune.training.run import run_recipe

    current = active_version(settings, kind)
    if current is not None:
        return f"kept the active {current.name}"
    result: Mapping[str, Any] = run_recipe(settings, recipe, overrides=overrides, show_progress=False)
    version, _ = activate(settings, result["version"], gate=build_gate(settings))
    keys = ("validation_loss", "val_loss_drop", "accuracy", "macro_f1")
    return {"version": version.name, **{k: result[k] for k in keys if result.get(k) is not None}}


def _demo_dialogue(settings: Settings, smoke: bool) -> Any:
    recipe, overrides = SMOKE_DIALOGUE if smoke else DEMO_DIALOGUE
    return _train_and_activate(settings, "dialogue", recipe, overrides)


def _demo_sentiment(settings: Settings, smoke: bool) -> Any:
    overrides = SMOKE_SENTIMENT if smoke else DEMO_SENTIMENT
    return _train_and_activate(settings, "sentiment", DEMO_SENTIMENT_RECIPE, overrides)


def demo_steps() -> list[DemoStep]:
    """What the demo does before serving, in order; each capability adds its step."""
    from infinstruct.core.db import upgrade

    return [
        DemoStep("db upgrade", lambda settings, smoke: upgrade(settings)),
        DemoStep("ingest samples", lambda settings, smoke: _demo_ingest(settings)),
        DemoStep("index build", _demo_index),
        DemoStep("instructions build", lambda settings, smoke: _demo_instructions(settings)),
        DemoStep("curated intent answers", lambda settings, smoke: _demo_intent_answers(settings)),
        DemoStep("train dialogue model", _demo_dialogue),
        DemoStep("train sentiment model", _demo_sentiment),
        DemoStep("follow sample topics", _demo_alerts),
    ]


def run_demo(settings: Settings, *, smoke: bool = False, port: int | None = None) -> None:
    for step in demo_steps():
        started = time.monotonic()
        log.info("demo: %s", step.name)
        result = step.run(settings, smoke)
        log.info("demo: %s done in %.1fs: %s", step.name, time.monotonic() - started, result)
    if not smoke:
        run_server(settings, port=port)
        return
    _serve_until_healthy(settings, port=port)


def _serve_until_healthy(settings: Settings, *, port: int | None, timeout_s: float = 120.0) -> None:
    """Start the server in a thread, wait for ``/healthz`` to answer, stop it."""
    import httpx
    import uvicorn

    from infinstruct.core.errors import StorageError

    config = uvicorn.Config(
        build_app(settings), host="127.0.0.1", port=port or _free_port(), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{config.port}/healthz"
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    log.info("demo: %s answered", url)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise StorageError(f"{url} did not answer within {timeout_s:.0f}s")
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
