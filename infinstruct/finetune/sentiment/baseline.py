"""The named baseline: frozen MiniLM sentence embeddings + logistic regression.

Same encoder weights the fine-tuned model starts from, same split, same metrics: what the
fine-tuning adds over a linear probe is the difference between the two reports.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from infinstruct.finetune.sentiment.data import LabelledExample
from infinstruct.finetune.sentiment.evaluate import report_predictions
from infinstruct.finetune.sentiment.reports import BaselineEvaluation

log = logging.getLogger(__name__)


def embed(texts: Sequence[str], *, model_path: Path, device: str, batch_size: int = 64) -> np.ndarray:
    """Unit-normalised mean-pooled MiniLM sentence vectors (the sentence-transformers model)."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(model_path), device=device)
    vectors = model.encode(
        list(texts), batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)


def run_baseline(
    train: Sequence[LabelledExample],
    test: Sequence[LabelledExample],
    *,
    model_path: Path,
    device: str,
    c: float = 1.0,
    seed: int = 13,
    subsets: Mapping[str, int] | None = None,
) -> BaselineEvaluation:
    """Fit the probe on ``train``, report on ``test`` (same shape as the model's report)."""
    from sklearn.linear_model import LogisticRegression

    x_train = embed([ex.text for ex in train], model_path=model_path, device=device)
    x_test = embed([ex.text for ex in test], model_path=model_path, device=device)
    probe = LogisticRegression(C=c, max_iter=2000, random_state=seed)
    probe.fit(x_train, [ex.label for ex in train])
    predictions = [int(p) for p in probe.predict(x_test)]
    report: BaselineEvaluation = {**report_predictions(test, predictions, subsets=subsets)}
    report["method"] = f"frozen MiniLM embeddings + logistic regression (C={c})"
    return report
