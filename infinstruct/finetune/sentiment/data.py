"""Sentiment examples from the store and a grouped, leak-free split.

Labelled finance documents (``kind=labelled``, ``meta.label_set=sentiment``) are read from the
named corpora. PhraseBank's four agreement files are nested (AllAgree ⊂ 75 ⊂ 66 ⊂ 50), so the
same sentence can arrive several times: examples are de-duplicated by normalised text (the
highest agreement wins) and split by a hash of their group, so a sentence — and everything
sharing its group key — lands on exactly one side of the split.
"""

from __future__ import annotations

import hashlib
import logging
import random
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlmodel import col, select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.core.protocols import SENTIMENT_LABELS
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Corpus, Document
from infinstruct.finetune.sentiment.config import DataSection

log = logging.getLogger(__name__)

LABEL_INDEX = {name: i for i, name in enumerate(SENTIMENT_LABELS)}


@dataclass(frozen=True)
class LabelledExample:
    text: str
    label: int  # index into SENTIMENT_LABELS
    group: str
    lang: str = "en"
    agreement: int | None = None
    corpus: str = ""


@dataclass
class Splits:
    train: list[LabelledExample] = field(default_factory=list)
    validation: list[LabelledExample] = field(default_factory=list)
    test: list[LabelledExample] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"train": len(self.train), "validation": len(self.validation), "test": len(self.test)}


def normalise(text: str) -> str:
    """NFKC, case-folded, whitespace collapsed: two renderings of one sentence compare equal."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def sentence_hash(text: str) -> str:
    return hashlib.sha256(normalise(text).encode("utf-8")).hexdigest()[:32]


def dedupe(examples: Iterable[LabelledExample]) -> list[LabelledExample]:
    """One example per normalised sentence; the one with the highest agreement wins."""
    best: dict[str, LabelledExample] = {}
    for ex in examples:
        key = normalise(ex.text)
        kept = best.get(key)
        if kept is None or (ex.agreement or 0) > (kept.agreement or 0):
            best[key] = ex
    return list(best.values())


def bucket(group: str, salt: str = "") -> float:
    """A stable position in [0, 1) for a group; the split cuts this line."""
    digest = hashlib.sha256(f"{salt}\x00{group}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_examples(
    examples: Sequence[LabelledExample], *, test_fraction: float, val_fraction: float, salt: str = ""
) -> Splits:
    """Grouped split: test below ``test_fraction``, validation next, training the rest."""
    out = Splits()
    for ex in sorted(examples, key=lambda e: (bucket(e.group, salt), e.text)):
        position = bucket(ex.group, salt)
        if position < test_fraction:
            out.test.append(ex)
        elif position < test_fraction + val_fraction:
            out.validation.append(ex)
        else:
            out.train.append(ex)
    return out


def load_examples(settings: Settings, data: DataSection) -> list[LabelledExample]:
    """Every usable sentiment example of the recipe's corpora, de-duplicated."""
    with session_scope(settings) as session:
        corpora = {c.id: c.name for c in session.exec(select(Corpus)).all()}
        wanted = set(data.corpora)
        missing = wanted - set(corpora.values())
        if missing:
            raise NotFoundError(
                f"no corpus named {sorted(missing)} in the store; load it first, e.g. "
                f"`infinstruct ingest PATH --corpus {sorted(missing)[0]}` (known: {sorted(corpora.values())})"
            )
        query = select(Document).where(
            Document.kind == "labelled",
            col(Document.stale).is_(False),
            col(Document.label).in_(list(SENTIMENT_LABELS)),
        )
        if wanted:
            ids = [cid for cid, name in corpora.items() if name in wanted]
            query = query.where(col(Document.corpus_id).in_(ids))
        if data.langs:
            query = query.where(col(Document.lang).in_(data.langs))
        rows = session.exec(query.order_by(col(Document.id))).all()
        raw = [_example(doc, corpora.get(doc.corpus_id, "")) for doc in rows]
    examples = [ex for ex in raw if ex is not None and _agrees(ex, data.min_agreement)]
    return dedupe(examples)


def _example(doc: Document, corpus: str) -> LabelledExample | None:
    meta = doc.meta or {}
    if meta.get("label_set", "sentiment") != "sentiment" or not doc.text.strip() or doc.label is None:
        return None
    agreement = meta.get("agreement")
    return LabelledExample(
        text=doc.text.strip(),
        label=LABEL_INDEX[doc.label],
        group=doc.group_key or sentence_hash(doc.text),
        lang=doc.lang,
        agreement=int(agreement) if agreement is not None else None,
        corpus=corpus,
    )


def _agrees(ex: LabelledExample, minimum: int | None) -> bool:
    # Sources without annotator agreement (FinFE, tweets) are kept: the filter is for PhraseBank.
    return minimum is None or ex.agreement is None or ex.agreement >= minimum


def load_splits(settings: Settings, data: DataSection, *, seed: int) -> Splits:
    """The recipe's train/validation/test split, caps applied (training cap is a seeded sample)."""
    examples = load_examples(settings, data)
    if not examples:
        raise InputError(
            f"no sentiment-labelled documents in corpora {data.corpora or 'any'} (langs {data.langs or 'any'}); "
            "load a labelled finance file first, e.g. `infinstruct ingest ../shared/data/finance/financial_phrasebank`"
        )
    splits = split_examples(
        examples, test_fraction=data.test_fraction, val_fraction=data.val_fraction, salt=data.split_salt
    )
    if data.max_train is not None and len(splits.train) > data.max_train:
        splits.train = random.Random(seed).sample(splits.train, data.max_train)
    if data.max_eval is not None:
        splits.validation = splits.validation[: data.max_eval]
        splits.test = splits.test[: data.max_eval]
    if not splits.train or not splits.test:
        raise InputError(
            f"split of {len(examples)} examples left train={len(splits.train)}, test={len(splits.test)}; "
            "load more labelled data or change data.test_fraction"
        )
    return splits
