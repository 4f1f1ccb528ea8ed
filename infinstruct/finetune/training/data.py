"""Instruction examples -> token ids with labels on the response tokens only.

Examples come from the instruction builder (``infinstruct.finetune.instructions``). Each
assistant turn is located by rendering the conversation with the model's own chat template
up to that turn: the tokens between "prompt + generation header" and "prompt + reply" are
the reply, and only they carry labels (everything else is -100).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import col, select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Document
from infinstruct.finetune.training.config import DataSection

log = logging.getLogger(__name__)

IGNORE = -100
#: Held-out subsets are drawn with a fixed seed so training-time evaluation and the
#: activation gate score exactly the same examples.
EVAL_SEED = 0


@dataclass(frozen=True)
class Example:
    id: int
    set_id: int
    domain: str
    task: str
    lang: str
    system: str
    messages: list[dict[str, str]] = field(default_factory=list)
    source_document_id: str | None = None

    def chat(self) -> list[dict[str, str]]:
        """The messages with the system prompt first (when the example has one)."""
        return ([{"role": "system", "content": self.system}] if self.system else []) + list(self.messages)


def _rows(settings: Settings, data: DataSection, split: str, domains: Sequence[str] | None) -> list[Any]:
    from infinstruct.finetune.instructions import load_examples

    return list(
        load_examples(
            settings,
            set_name=data.set_name,
            version=data.set_version,
            split=split,
            tasks=data.tasks,
            domains=domains,
            langs=[data.lang] if data.lang else None,
        )
    )


def load_split(
    settings: Settings,
    data: DataSection,
    split: str,
    *,
    limit: int | None,
    seed: int = EVAL_SEED,
    domains: Sequence[str] | None = None,
) -> list[Example]:
    """Examples of one split filtered by the recipe's domains/lang, a seeded sample of ``limit``."""
    wanted = list(domains) if domains is not None else data.domains
    out = [
        Example(
            id=int(r.id),
            set_id=int(r.set_id),
            domain=r.domain,
            task=r.task,
            lang=r.lang,
            system=r.system or "",
            messages=list(r.messages),
            source_document_id=r.source_document_id,
        )
        for r in _rows(settings, data, split, wanted)
        if any(m.get("role") == "assistant" for m in r.messages)
    ]
    if limit is not None and len(out) > limit:
        out = sorted(random.Random(seed).sample(out, limit), key=lambda e: e.id)
    return out


def require(examples: list[Example], *, split: str, data: DataSection) -> list[Example]:
    if not examples:
        raise InputError(
            f"no {split} examples in instruction set {data.set_name!r} for domains={data.domains} "
            f"tasks={data.tasks}; build it with `infinstruct instructions build` or fix the recipe's data keys"
        )
    return examples


# -- tokenisation -----------------------------------------------------------------------
def _render(tokenizer: Any, messages: list[dict[str, str]], *, generation: bool) -> list[int]:
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation)
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def encode_chat(
    tokenizer: Any, messages: list[dict[str, str]], *, max_len: int
) -> dict[str, list[int]] | None:
    """``input_ids`` and ``labels`` (replies only); None when no reply token survives truncation."""
    ids: list[int] = []
    labels: list[int] = []
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        prompt = _render(tokenizer, messages[:i], generation=True)
        full = _render(tokenizer, messages[: i + 1], generation=False)
        if full[: len(prompt)] != prompt:  # a template that rewrites earlier turns: label the tail
            prompt = full[: len(ids)] if full[: len(ids)] == ids else []
        labels += [IGNORE] * (len(prompt) - len(ids)) + full[len(prompt) :]
        ids = full
    if len(ids) > max_len:  # keep the end: the reply matters more than the oldest context
        ids, labels = ids[-max_len:], labels[-max_len:]
    if all(lab == IGNORE for lab in labels):
        return None
    return {"input_ids": ids, "labels": labels}


def encode_examples(
    tokenizer: Any, examples: Iterable[Example], *, max_len: int
) -> list[dict[str, list[int]]]:
    out = [encode_chat(tokenizer, e.chat(), max_len=max_len) for e in examples]
    return [f for f in out if f is not None]


def pack(features: list[dict[str, list[int]]], *, max_len: int) -> list[dict[str, list[int]]]:
    """Concatenate examples into sequences of up to ``max_len`` tokens (labels kept as they are)."""
    packed: list[dict[str, list[int]]] = []
    ids: list[int] = []
    labels: list[int] = []
    for feature in features:
        if ids and len(ids) + len(feature["input_ids"]) > max_len:
            packed.append({"input_ids": ids, "labels": labels})
            ids, labels = [], []
        ids = ids + feature["input_ids"]
        labels = labels + feature["labels"]
    if ids:
        packed.append({"input_ids": ids, "labels": labels})
    return packed


def lm_blocks(tokenizer: Any, texts: Iterable[str], *, block: int) -> list[dict[str, list[int]]]:
    """Self-supervised blocks: the texts joined by EOS, cut into ``block``-token pieces."""
    eos = tokenizer.eos_token_id
    stream: list[int] = []
    for text in texts:
        stream += list(tokenizer(text, add_special_tokens=False)["input_ids"]) + [eos]
    return [
        {"input_ids": stream[i : i + block], "labels": stream[i : i + block]}
        for i in range(0, max(len(stream) - block, 0) + 1, block)
        if len(stream[i : i + block]) > 8
    ]


def collate(features: Sequence[dict[str, list[int]]], *, pad_id: int) -> dict[str, Any]:
    """Right-padded tensors; padding never carries a label."""
    import torch

    width = max(len(f["input_ids"]) for f in features)
    ids = torch.full((len(features), width), pad_id, dtype=torch.long)
    labels = torch.full((len(features), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(features), width), dtype=torch.long)
    for row, f in enumerate(features):
        n = len(f["input_ids"])
        ids[row, :n] = torch.tensor(f["input_ids"])
        labels[row, :n] = torch.tensor(f["labels"])
        mask[row, :n] = 1
    return {"input_ids": ids, "labels": labels, "attention_mask": mask}


# -- domain text for self-supervised pretraining ----------------------------------------
def pretrain_texts(
    settings: Settings, data: DataSection, *, train: list[Example], held_out: list[Example], max_chars: int
) -> list[str]:
    """Corpus documents of the recipe's domains, minus those behind held-out examples,
    then the training examples' own text (so a store without documents still works)."""
    excluded = {e.source_document_id for e in held_out if e.source_document_id}
    texts: list[str] = []
    total = 0
    with session_scope(settings) as session:
        from infinstruct.core.tables import Corpus

        query = (
            select(Document.id, Document.title, Document.text)
            .join(Corpus, col(Corpus.id) == col(Document.corpus_id))
            .where(col(Document.stale).is_(False))
        )
        if data.domains:
            query = query.where(col(Corpus.domain).in_(data.domains))
        for doc_id, title, text in session.exec(query.order_by(col(Document.id))):
            if doc_id in excluded:
                continue
            piece = f"{title}\n{text}".strip()
            texts.append(piece)
            total += len(piece)
            if total >= max_chars:
                return texts
    for example in train:
        piece = "\n".join(m["content"] for m in example.chat())
        texts.append(piece)
        total += len(piece)
        if total >= max_chars:
            break
    return texts
