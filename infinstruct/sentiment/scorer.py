"""The serving-time sentiment scorer: a sequence-classification folder → probabilities.

One code path scores for the alerts (the registry's active ``sentiment`` version) and for
evaluation in ``finetune``: batched, sorted by length so batches pad little, columns always
in ``SENTIMENT_LABELS`` order whatever order the model's head uses.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from infinstruct.core.devices import resolve_device
from infinstruct.core.errors import ModelLoadError
from infinstruct.core.protocols import SENTIMENT_LABELS, SentimentScorer
from infinstruct.core.registry import active_version
from infinstruct.core.settings import Settings
from infinstruct.sentiment import meanpool

log = logging.getLogger(__name__)

#: Kind of registry version this scorer serves.
SENTIMENT_KIND = "sentiment"


def label_columns(id2label: dict[int, str]) -> list[int]:
    """For each of SENTIMENT_LABELS, the model output column that holds it."""
    by_name = {str(name).lower(): int(i) for i, name in id2label.items()}
    if all(label in by_name for label in SENTIMENT_LABELS):
        return [by_name[label] for label in SENTIMENT_LABELS]
    if len(id2label) == len(SENTIMENT_LABELS):
        # Unnamed heads (LABEL_0..2) are trained in SENTIMENT_LABELS order by this project.
        return list(range(len(SENTIMENT_LABELS)))
    raise ModelLoadError(
        f"the model's labels {sorted(by_name)} are not {list(SENTIMENT_LABELS)}; "
        "train it with a sentiment recipe (`infinstruct train sentiment-minilm`)"
    )


class ClassifierScorer:
    """``SentimentScorer`` over a transformers model and its tokenizer (already loaded)."""

    def __init__(
        self, model: Any, tokenizer: Any, *, version: str, max_length: int = 128, batch_size: int = 64
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.version = version
        self.max_length = max_length
        self.batch_size = batch_size
        self._columns = label_columns(dict(model.config.id2label))

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Raw scores (n, 3) in SENTIMENT_LABELS order."""
        import torch

        out = np.zeros((len(texts), len(SENTIMENT_LABELS)), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.inference_mode():
                for start in range(0, len(order), self.batch_size):
                    chunk = order[start : start + self.batch_size]
                    enc = self.tokenizer(
                        [texts[i] or " " for i in chunk],
                        padding=True,
                        truncation=True,
                        max_length=self.max_length,
                        return_tensors="pt",
                    ).to(self.device)
                    logits = self.model(**enc).logits.float().cpu().numpy()
                    out[chunk] = logits[:, self._columns]
        finally:
            self.model.train(was_training)
        return out

    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities (n, 3) over negative, neutral, positive; rows sum to 1."""
        logits = self.logits(texts)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)

    def predict(self, texts: Sequence[str]) -> list[str]:
        return [SENTIMENT_LABELS[i] for i in self.score(texts).argmax(axis=1)]


def load_scorer(
    folder: str | Path, *, version: str, device: str = "auto", max_length: int = 128, batch_size: int = 64
) -> ClassifierScorer:
    """Load a fine-tuned classifier folder (as saved by a sentiment recipe)."""
    model, tokenizer = _load(str(Path(folder).resolve()), resolve_device(device))
    return ClassifierScorer(model, tokenizer, version=version, max_length=max_length, batch_size=batch_size)


def _load(folder: str, device: str) -> tuple[Any, Any]:
    # Not cached here: whoever scores repeatedly keeps its scorer (the scheduler's Worker holds
    # the active one and reloads only when another version becomes active).
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    meanpool.register()
    path = Path(folder)
    if not (path / "config.json").exists():
        raise ModelLoadError(
            f"no sentiment model at {path}; retrain it with `infinstruct train sentiment-minilm` "
            "or activate another version (`infinstruct models list --kind sentiment`)"
        )
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForSequenceClassification.from_pretrained(folder)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot load the sentiment model at {path}: {exc}") from exc
    model.to(device).eval()
    return model, tokenizer


def load_active_scorer(settings: Settings, *, device: str = "auto") -> SentimentScorer | None:
    """The registry's active sentiment version as a scorer, or None when none is active."""
    version = active_version(settings, SENTIMENT_KIND)
    if version is None:
        return None
    max_length = int((version.recipe_resolved or {}).get("model", {}).get("max_length", 128))
    return load_scorer(version.artefact_path, version=version.name, device=device, max_length=max_length)
