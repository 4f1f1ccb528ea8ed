"""The contracts the parts implement; ``services.py`` wires the implementations in.

``platform`` code and the UI depend on these, never on ``connectors``/``finetune`` directly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from infinstruct.core.ingest_report import IngestReport

if TYPE_CHECKING:
    from infinstruct.core.settings import Settings


@runtime_checkable
class Ingestor(Protocol):
    """Load a file, folder or URL into the store (implemented by ``connectors``)."""

    def __call__(
        self,
        source: str | Path,
        *,
        connector: str | None = None,
        corpus: str | None = None,
        domain: str | None = None,
        strict: bool = False,
    ) -> IngestReport: ...


#: Builds an ``Ingestor`` for given settings (``services.build_ingestor``); passed down to the
#: parts that may not import ``connectors`` (``eval sentiment`` loads its file through it).
IngestorFactory = Callable[["Settings"], Ingestor]


@runtime_checkable
class Embedder(Protocol):
    """Text → unit-normalised float32 vectors."""

    model_name: str
    dimension: int

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@runtime_checkable
class InstructionBuilder(Protocol):
    """Build an instruction-set version from the store (implemented by ``finetune``)."""

    def __call__(self, *, name: str = "default") -> dict[str, Any]: ...


@runtime_checkable
class TrainerLauncher(Protocol):
    """Train a recipe; returns the registered model version's name."""

    def __call__(self, recipe: str, *, resume: bool = False, continue_from: str | None = None) -> str: ...


@runtime_checkable
class DialogueBackend(Protocol):
    """Generate a reply to chat messages, streaming text pieces."""

    version: str

    def stream(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> Iterator[str]: ...


@runtime_checkable
class SentimentScorer(Protocol):
    """Texts → probabilities over ``negative, neutral, positive``."""

    version: str

    def score(self, texts: Sequence[str]) -> np.ndarray: ...


SENTIMENT_LABELS: tuple[str, str, str] = ("negative", "neutral", "positive")
