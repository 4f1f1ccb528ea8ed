"""Question indexes: each model version's training questions, and the curated questions.

The model route answers only what the active model was trained on; "trained on" is
measured as the cosine similarity of the customer's question to the nearest training
question of that model version. Each version's index (FAISS inner product over unit
vectors) is built once from the train split of its instruction set, saved under
``<index_dir>/chat/`` keyed by version name, and reloaded from there.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlmodel import col, select

from infinstruct.core.db import session_scope
from infinstruct.core.protocols import Embedder
from infinstruct.core.settings import Settings
from infinstruct.core.tables import CuratedAnswer, Document, InstructionExample, ModelVersion
from infinstruct.core.tasks import CLASSIFICATION_TASKS

log = logging.getLogger(__name__)

#: Bump when what goes into a saved index changes, so stale files are rebuilt.
FORMAT = 3


@dataclass
class QuestionIndex:
    """Unit vectors of questions with a payload each; ``nearest`` by cosine similarity."""

    key: str
    payloads: list[dict[str, Any]]
    vectors: np.ndarray

    def __post_init__(self) -> None:
        import faiss

        self._index = faiss.IndexFlatIP(int(self.vectors.shape[1]))
        if len(self.payloads):
            self._index.add(np.ascontiguousarray(self.vectors, dtype=np.float32))

    def __len__(self) -> int:
        return len(self.payloads)

    def nearest(self, query: np.ndarray, k: int) -> list[list[tuple[float, dict[str, Any]]]]:
        """For each row of ``query``: up to ``k`` (similarity, payload), best first."""
        q = np.ascontiguousarray(np.atleast_2d(query), dtype=np.float32)
        if not len(self.payloads) or k <= 0:
            return [[] for _ in range(q.shape[0])]
        scores, ids = self._index.search(q, min(k, len(self.payloads)))
        return [
            [(float(s), self.payloads[int(i)]) for s, i in zip(row_s, row_i, strict=True) if i >= 0]
            for row_s, row_i in zip(scores, ids, strict=True)
        ]


def _embed(settings: Settings, embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    from infinstruct.embeddings.embedder import embed_cached

    if not texts:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    return embed_cached(settings, list(texts), embedder=embedder)


def training_questions(
    settings: Settings, version: ModelVersion, *, tasks: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """``{question, answer, example_id, corpus}`` of every train-split example of the
    version's instruction set whose task is in ``tasks`` (default ``chat.question_tasks``),
    deduplicated; for a classification task the answer is the label."""
    if version.instruction_set_id is None:
        return []
    tasks = list(tasks if tasks is not None else settings.chat.question_tasks)
    with session_scope(settings) as session:
        examples = session.exec(
            select(InstructionExample)
            .where(
                InstructionExample.set_id == version.instruction_set_id,
                InstructionExample.split == "train",
                col(InstructionExample.task).in_(tasks),
            )
            .order_by(col(InstructionExample.id))
        ).all()
        source_ids = {e.source_document_id for e in examples if e.task in CLASSIFICATION_TASKS}
        texts: dict[str, str] = {}
        ids = [i for i in source_ids if i]
        for start in range(0, len(ids), 500):
            for doc_id, text in session.exec(
                select(Document.id, Document.text).where(col(Document.id).in_(ids[start : start + 500]))
            ).all():
                texts[doc_id] = text
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for ex in examples:
        users = [m["content"] for m in ex.messages if m.get("role") == "user"]
        answers = [m["content"] for m in ex.messages if m.get("role") == "assistant"]
        answer = answers[0] if answers else ""
        if ex.task in CLASSIFICATION_TASKS:
            question = texts.get(ex.source_document_id or "", "")
        elif "question" in ex.meta:  # a grounded reply example: the bare exchange
            question, answer = str(ex.meta["question"]), str(ex.meta.get("reply", answer))
        else:
            question = users[0] if users else ""
        question = question.strip()
        if not question or question.casefold() in seen:
            continue
        seen.add(question.casefold())
        out.append(
            {
                "question": question,
                "answer": answer,
                "example_id": ex.id,
                "task": ex.task,
                "corpus": str(ex.meta.get("corpus", ex.domain)),
                "source_document_id": ex.source_document_id,
            }
        )
    return out


def load_version_index(
    settings: Settings, version: ModelVersion, embedder: Embedder, *, kind: str = "questions"
) -> QuestionIndex:
    """The training-question index of ``version``: from disk, or built and saved.

    ``kind`` ``questions``: the reply tasks (``chat.question_tasks``), the model route's
    evidence; ``intents``: the intent-labelled questions (``chat.intent_tasks``), the intent signal.
    """
    folder = settings.index_dir / "chat"
    tasks = settings.chat.intent_tasks if kind == "intents" else settings.chat.question_tasks
    stem = f"{kind}-{_safe(version.name)}-{version.id}"
    meta_path, vec_path = folder / f"{stem}.json", folder / f"{stem}.npy"
    if meta_path.exists() and vec_path.exists():
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if (
            meta.get("format") == FORMAT
            and meta.get("embedder") == embedder.model_name
            and meta.get("tasks") == list(tasks)
        ):
            return QuestionIndex(version.name, meta["payloads"], np.load(vec_path))
    payloads = training_questions(settings, version, tasks=tasks)
    vectors = _embed(settings, embedder, [p["question"] for p in payloads])
    folder.mkdir(parents=True, exist_ok=True)
    tmp_vec = folder / f".{stem}.npy"
    np.save(tmp_vec, vectors)
    tmp_vec.replace(vec_path)
    tmp_meta = meta_path.with_suffix(".json.tmp")
    tmp_meta.write_text(
        json.dumps(
            {"format": FORMAT, "embedder": embedder.model_name, "tasks": list(tasks), "payloads": payloads},
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    tmp_meta.replace(meta_path)
    log.info("%s index of %s: %d questions", kind, version.name, len(payloads))
    return QuestionIndex(version.name, payloads, vectors)


def load_curated_index(settings: Settings, embedder: Embedder) -> QuestionIndex:
    """Every active curated question (small: built in memory on each change)."""
    with session_scope(settings) as session:
        rows = session.exec(
            select(CuratedAnswer)
            .where(col(CuratedAnswer.active).is_(True), col(CuratedAnswer.intent).is_(None))
            .order_by(col(CuratedAnswer.id))
        ).all()
    payloads = [{"id": r.id, "question": r.question, "answer": r.answer, "origin": r.origin} for r in rows]
    return QuestionIndex(
        "curated", payloads, _embed(settings, embedder, [str(p["question"]) for p in payloads])
    )


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


@dataclass(frozen=True)
class IntentGuess:
    """The intent signal of one question: the label, its vote share, the nearest similarity."""

    intent: str
    confidence: float
    similarity: float


#: Softmax temperature of the vote: a neighbour 0.05 less similar counts e (2.7) times less, so
#: the closest labelled questions decide, as with few examples per intent (a sample store).
VOTE_TEMPERATURE = 0.05


def vote_intent(neighbours: Sequence[tuple[float, dict[str, Any]]]) -> IntentGuess | None:
    """Similarity-weighted vote of the nearest intent-labelled questions (None without any)."""
    import math

    if not neighbours:
        return None
    best = max(score for score, _ in neighbours)
    weights: dict[str, float] = {}
    for score, payload in neighbours:
        label = str(payload.get("answer", "")).strip()
        if label:
            weights[label] = weights.get(label, 0.0) + math.exp((score - best) / VOTE_TEMPERATURE)
    if not weights:
        return None
    label = max(weights, key=lambda k: weights[k])
    return IntentGuess(label, weights[label] / sum(weights.values()), float(best))
