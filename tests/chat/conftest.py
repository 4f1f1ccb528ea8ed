"""A small real chat store, built once per session and copied per test.

Real connectors load a BANKING77 slice and a few shop dialogues (one with a planted
injection), the real retrieval index and instruction set are built over them, and two
dialogue model versions are registered. The dialogue model itself is the one outside
edge replaced in fast tests: ``ScriptedBackend`` answers deterministically.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infinstruct.chat.backends import ModelProvider
from infinstruct.chat.router import ChatRouter
from infinstruct.chat.thresholds import Thresholds
from infinstruct.core.settings import Settings, load_settings
from infinstruct.core.tables import ModelVersion
from infinstruct.embeddings.embedder import Embedders

DATA = Path(__file__).resolve().parent / "data"
#: One MiniLM for the test session's routers, as ``services.py`` shares one per process.
EMBEDDERS = Embedders()
CANARY = "CANARY-7Q2X"
#: Fixed thresholds for routing-logic tests (calibration has its own real-data test).
FIXED = Thresholds(curated=0.9, model=0.8, retrieval=0.35)


class ScriptedBackend:
    """A deterministic stand-in for the dialogue model that records what it was sent."""

    def __init__(self, version: str = "scripted") -> None:
        self.version = version
        self.calls: list[list[dict[str, str]]] = []

    def stream(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> Iterator[str]:
        self.calls.append(messages)
        for word in f"Scripted reply from {self.version} .".split():
            yield word + " "


def scripted_factory(
    backend: ScriptedBackend | None = None,
) -> Callable[[Settings, ModelVersion | None], ScriptedBackend]:
    def factory(settings: Settings, version: ModelVersion | None) -> ScriptedBackend:
        if backend is not None:
            backend.version = version.name if version else "base"
            return backend
        return ScriptedBackend(version.name if version else "base")

    return factory


_TEMPLATE: list[Path] = []


@pytest.fixture(scope="session")
def chat_template(tmp_path_factory: pytest.TempPathFactory, _migrated_template: Path) -> Path:
    """data dir with the loaded corpora, index, instruction set and model versions v1 (active), v2."""
    return build_chat_template(tmp_path_factory, _migrated_template)


def build_chat_template(tmp_path_factory: pytest.TempPathFactory, _migrated_template: Path) -> Path:
    """Built once per session, whichever test folder asks first (tests/ui shares it)."""
    if _TEMPLATE:
        return _TEMPLATE[0]

    from infinstruct.connectors.ingest import ingest
    from infinstruct.core import registry
    from infinstruct.finetune.instructions import build_instruction_set
    from infinstruct.retrieval.index_store import build_index

    folder = tmp_path_factory.mktemp("chat") / "var"
    folder.mkdir()
    shutil.copy(_migrated_template, folder / "infinstruct.db")
    settings = load_settings(data_dir=folder)
    ingest(settings, DATA / "banking77", corpus="banking77")
    report = build_instruction_set(settings)
    # Loaded after the instruction set: the shop is known to retrieval, not to the model.
    ingest(settings, DATA / "shop" / "dialogues.jsonl", corpus="shop")
    build_index(settings)
    artefact = folder / "models" / "none"
    artefact.mkdir(parents=True)
    for name in ("dialogue-v1", "dialogue-v2"):
        registry.register_version(
            settings,
            ModelVersion(
                name=name,
                kind="dialogue",
                base="smollm2",
                method="lora",
                recipe="test",
                artefact_path=str(artefact),
                instruction_set_id=report["set_id"],
            ),
        )
    registry.activate(settings, "dialogue-v1")
    from infinstruct.chat.questions import load_version_index
    from infinstruct.embeddings.embedder import load_embedder

    for version in registry.list_versions(settings, kind="dialogue"):  # saved beside the copy
        load_version_index(settings, version, load_embedder(settings, EMBEDDERS))
    _TEMPLATE.append(folder)
    return folder


@pytest.fixture
def chat_settings(chat_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A private copy of the chat store (tests add curated answers, hand-offs, turns)."""
    data_dir = tmp_path / "var"
    shutil.copytree(chat_template, data_dir)
    return load_settings(data_dir=data_dir, chat={"model_poll_s": 0.1})


def make_router(
    settings: Settings,
    backend: ScriptedBackend | None = None,
    *,
    thresholds: Thresholds | None = FIXED,
    recommender: object = None,
) -> ChatRouter:
    from infinstruct.chat.evidence import index_searcher
    from infinstruct.embeddings.embedder import load_embedder

    return ChatRouter(
        settings,
        models=ModelProvider(settings, factory=scripted_factory(backend)),
        embedder=load_embedder(settings, EMBEDDERS),
        searcher=index_searcher(settings, embedders=EMBEDDERS),
        recommender=recommender,  # type: ignore[arg-type]
        thresholds=thresholds,
    )
