"""``infinstruct eval answers``: what customers actually get, next to two baselines.

Route precision and validation loss can both look fine while customers get labels; this
measures the replies themselves, on the active version's held-out splits:

- in-domain reply questions: the test split of ``support_reply``/``dialogue_reply`` (twcs is
  split by brand, so these brands were never trained on), with the real agent reply;
- intent questions: the test split of the intent tasks (BANKING77), with the gold intent;
- off-domain questions: the half of the committed out-of-domain list (near-domain included)
  that calibration does not fit on.

Every reply is asked through the real router (no conversation stored, no hand-off opened) and
judged with the same rules as the reply check. Similarity is the MiniLM cosine between a reply
and the real agent reply, next to two baselines computed in the same run: the reply of the
nearest past question (the train split) and one constant apology.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sqlmodel import col, select

from infinstruct.chat.calibration import CalibrationItem, _pick
from infinstruct.chat.eval_reports import (
    AnswerReport,
    AnswerShares,
    InDomain,
    IntentScores,
    Latency,
    OffDomain,
    QuestionCounts,
    ReplyShares,
    RouteShares,
    Similarity,
)
from infinstruct.chat.ood import OUT_OF_DOMAIN
from infinstruct.chat.reply_check import invented_contacts, is_degenerate, is_echo, is_label
from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Document, InstructionExample
from infinstruct.core.tasks import REPLY_TASKS

if TYPE_CHECKING:
    from infinstruct.chat.answers import Answer
    from infinstruct.chat.router import ChatRouter

log = logging.getLogger(__name__)

CONSTANT_REPLY = (
    "We're sorry for the trouble. Please send us a direct message with more details and we'll look into it."
)


@dataclass(frozen=True)
class EvalQuestion:
    question: str
    kind: str  # reply | intent | off_domain
    reference: str = ""  # the real agent reply, or the gold intent


def _held_out(settings: Settings, set_id: int, tasks: list[str], n: int) -> list[tuple[str, str, str]]:
    """``n`` (question, reference, corpus) of the test split of ``tasks``, spread over corpora."""
    with session_scope(settings) as session:
        rows = session.exec(
            select(InstructionExample).where(
                InstructionExample.set_id == set_id,
                InstructionExample.split == "test",
                col(InstructionExample.task).in_(tasks),
            )
        ).all()
        doc_ids = [r.source_document_id for r in rows if r.source_document_id]
        texts: dict[str, str] = {}
        for start in range(0, len(doc_ids), 500):
            texts.update(
                session.exec(
                    select(Document.id, Document.text).where(
                        col(Document.id).in_(doc_ids[start : start + 500])
                    )
                ).all()
            )
    by_corpus: dict[str, list[tuple[str, tuple[str, str, str]]]] = defaultdict(list)
    for row in rows:
        assistant = [m["content"] for m in row.messages if m.get("role") == "assistant"]
        if row.task in REPLY_TASKS:
            question = str(row.meta.get("question") or "")
            reference = str(row.meta.get("reply") or (assistant[0] if assistant else ""))
        else:
            question, reference = (
                texts.get(row.source_document_id or "", ""),
                assistant[0] if assistant else "",
            )
        if question.strip() and reference.strip():
            corpus = str(row.meta.get("corpus", row.domain))
            by_corpus[corpus].append((str(row.id), (question.strip(), reference.strip(), corpus)))
    out: list[tuple[str, str, str]] = []
    names = sorted(by_corpus, key=lambda c: len(by_corpus[c]))
    for i, name in enumerate(names):
        out.extend(_pick(by_corpus[name], (n - len(out)) // (len(names) - i)))
    return out


def eval_questions(settings: Settings, set_id: int, *, size: int) -> list[EvalQuestion]:
    """The three samples: reply, intent and off-domain questions (``size`` each at most)."""
    cfg = settings.chat
    replies = [
        EvalQuestion(q, "reply", r) for q, r, _ in _held_out(settings, set_id, list(REPLY_TASKS), size)
    ]
    intents = [
        EvalQuestion(q, "intent", r) for q, r, _ in _held_out(settings, set_id, cfg.intent_tasks, size)
    ]
    # the half calibration never fits on
    held = [q for q in OUT_OF_DOMAIN if CalibrationItem(q, "abstain", "out_of_domain").half == "test"]
    off = [EvalQuestion(q, "off_domain") for q in _pick([(q, q) for q in held], size)]
    if not replies and not intents:
        raise InputError(
            "the active version's instruction set has no held-out reply or intent questions; "
            "load support corpora, rebuild with `infinstruct instructions build` and train"
        )
    return replies + intents + off


def _flags(answer: Answer, question: str, labels: frozenset[str], allowed: list[str]) -> dict[str, bool]:
    text = answer.answer
    return {
        "label": is_label(text, labels),
        "echo": is_echo(text, question),
        "degenerate": bool(is_degenerate(text)),
        "invented_contact": bool(invented_contacts(text, [question, *allowed])),
    }


def _shares(group: list[dict[str, bool]]) -> ReplyShares:
    return ReplyShares(
        label_share=_share([f["label"] for f in group]),
        echo_share=_share([f["echo"] for f in group]),
        degenerate_share=_share([f["degenerate"] for f in group]),
        invented_contact_share=_share([f["invented_contact"] for f in group]),
    )


def _share(values: list[bool]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def _percentile(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 3) if values else 0.0


def run_answer_eval(settings: Settings, router: ChatRouter, *, size: int = 30) -> AnswerReport:
    """Ask every sampled question, judge the replies, compute the baselines; the report."""
    from infinstruct.chat.curation import intent_answers

    version = router.models.version
    if version is None or version.instruction_set_id is None:
        raise InputError("no active dialogue model; train one and `infinstruct models activate NAME` first")
    questions = eval_questions(settings, version.instruction_set_id, size=size)
    labels = router.intent_labels()
    curated_texts = [row.answer for row in intent_answers(settings).values()]
    asked: list[tuple[EvalQuestion, Answer, float]] = []
    for item in questions:
        started = time.monotonic()
        answer = router.ask(item.question, persist=False, handoff=False)
        asked.append((item, answer, time.monotonic() - started))
    flags: dict[str, list[dict[str, bool]]] = defaultdict(list)
    for item, answer, _ in asked:
        allowed = [*curated_texts, *(s.snippet for s in answer.sources), *(s.title for s in answer.sources)]
        flags[answer.route].append(_flags(answer, item.question, labels, allowed))
    by_kind: dict[str, list[tuple[EvalQuestion, Answer]]] = defaultdict(list)
    for item, answer, _ in asked:
        by_kind[item.kind].append((item, answer))
    reply_items, intent_items, off_items = by_kind["reply"], by_kind["intent"], by_kind["off_domain"]
    rejections: Counter[str] = Counter()
    for _, answer, _ in asked:
        rejections.update(answer.rejections)
    latencies = [t for _, _, t in asked]
    generated = [t for _, a, t in asked if a.route in ("model", "retrieval")]
    return AnswerReport(
        model_version=version.name,
        questions=QuestionCounts(reply=len(reply_items), intent=len(intent_items), off_domain=len(off_items)),
        answers=AnswerShares(
            **_shares([f for group in flags.values() for f in group]),
            by_route={
                route: RouteShares(n=len(group), **_shares(group)) for route, group in sorted(flags.items())
            },
            routes=dict(Counter(a.route for _, a, _ in asked)),
        ),
        off_domain=OffDomain(
            decline_share=_share([a.route == "abstain" for _, a in off_items]),
            routes=dict(Counter(a.route for _, a in off_items)),
        ),
        in_domain=InDomain(
            answered_share=_share([a.route != "abstain" for _, a in reply_items]),
            intent_routed_share=_share([a.intent is not None for _, a in intent_items]),
        ),
        similarity=_similarity(router, reply_items),
        intent=IntentScores(
            accuracy=_share([a.intent == i.reference for i, a in intent_items]),
            curated_share=_share([a.route == "curated" for _, a in intent_items]),
        ),
        rejections=dict(rejections),
        latency=Latency(
            p50_s=_percentile(latencies, 50),
            p95_s=_percentile(latencies, 95),
            generated_p50_s=_percentile(generated, 50),
            generated_p95_s=_percentile(generated, 95),
        ),
        load_average=[round(x, 2) for x in os.getloadavg()],
    )


def _similarity(router: ChatRouter, items: list[tuple[EvalQuestion, Answer]]) -> Similarity:
    """Mean cosine to the real agent reply: ours, the nearest past reply, one constant apology."""
    if not items:
        return Similarity(ours=0.0, nearest_reply=0.0, constant=0.0, n=0)
    embed = router.embedder.embed
    references = embed([i.reference for i, _ in items])
    ours = embed([a.answer for _, a in items])
    index = router.version_index()
    questions = embed([i.question for i, _ in items])
    nearest = [
        hits[0][1]["answer"] if hits else "" for hits in (index.nearest(questions, 1) if index else [])
    ]
    baseline = embed(nearest) if nearest else np.zeros_like(references)
    constant = embed([CONSTANT_REPLY])[0]

    def mean_cos(vectors: np.ndarray) -> float:
        return round(float(np.mean(np.sum(vectors * references, axis=1))), 4)

    return Similarity(
        ours=mean_cos(ours),
        nearest_reply=mean_cos(baseline),
        constant=round(float(np.mean(references @ constant)), 4),
        n=len(items),
    )
