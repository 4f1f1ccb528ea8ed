"""The quality and diversity filter: length bounds, language check, PII check, label sanity,
conflicting labels, exact and near duplicates (MinHash LSH), and a diversity figure.

Candidates are judged in the order they arrive (the builder sorts them), so which copy of
a duplicate survives is deterministic. Every reject is counted by reason and by task.
"""

from __future__ import annotations

import logging
import re
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from infinstruct.core.settings import InstructionSettings
from infinstruct.core.tasks import CLASSIFICATION_TASKS
from infinstruct.core.text import detect_lang, find_pii, normalise_sentence
from infinstruct.finetune.instructions.tasks.base import Candidate
from infinstruct.finetune.instructions.textnorm import stable_hash

log = logging.getLogger(__name__)

#: Reasons a candidate can be rejected, in the order the checks run.
REASONS: tuple[str, ...] = (
    "empty",
    "too_short",
    "too_long",
    "no_letters",
    "language_mismatch",
    "pii_email",
    "pii_phone",
    "pii_national_id",
    "pii_card_number",
    "label_invalid",
    "label_conflict",
    "flagged_near_duplicate",
    "exact_duplicate",
    "near_duplicate",
)
_SHINGLE_INPUT = 1000
_DIVERSITY_SAMPLE = 20_000
_WORD = re.compile(r"[A-Za-z0-9]+(?:'[a-z]+)?|[\u3400-\u4dbf\u4e00-\u9fff]")


@dataclass
class FilterResult:
    kept: list[Candidate]
    rejects: Counter[str] = field(default_factory=Counter)
    rejects_by_task: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    #: A few rejected inputs per reason, so a report shows what a reason looks like.
    samples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))

    def reject(self, cand: Candidate, reason: str) -> None:
        self.rejects[reason] += 1
        self.rejects_by_task[cand.task][reason] += 1
        if len(self.samples[reason]) < 3:
            self.samples[reason].append(cand.content[:160])


def _check_one(cand: Candidate, opts: InstructionSettings) -> str | None:
    """The first per-example reason to reject ``cand``, or None."""
    if (
        not cand.content.strip()
        or not cand.answer.strip()
        or any(not m["content"].strip() for m in cand.messages)
    ):
        return "empty"
    is_label = cand.task in CLASSIFICATION_TASKS
    if len(cand.content.strip()) < opts.min_chars or (
        not is_label and len(cand.answer.strip()) < opts.min_chars
    ):
        return "too_short"
    if len(cand.system) + sum(len(m["content"]) for m in cand.messages) > opts.max_chars:
        return "too_long"
    detected = detect_lang(cand.content)
    if detected is None:
        return "no_letters"
    if detected != cand.content_lang:
        return "language_mismatch"
    pii = find_pii("\n".join([cand.system, *(m["content"] for m in cand.messages)]))
    if pii is not None:
        return f"pii_{pii}"
    if is_label and (not cand.options or len(set(cand.options)) < 2 or cand.answer not in cand.options):
        return "label_invalid"
    if cand.meta.get("near_dup_of"):
        return "flagged_near_duplicate"
    return None


def _conflicting(cands: Sequence[Candidate]) -> set[tuple[str, str]]:
    """(label scope, sentence) keys that carry two different labels in one scope."""
    labels: dict[tuple[str, str], set[str]] = defaultdict(set)
    for cand in cands:
        if cand.task in CLASSIFICATION_TASKS:
            labels[(cand.label_scope, normalise_sentence(cand.content))].add(cand.answer)
    return {key for key, found in labels.items() if len(found) > 1}


def _crc32(data: bytes) -> int:
    """Shingle hash: CRC-32 is C-fast and stable across processes (sha1 per shingle, the
    datasketch default, dominated the filter's time)."""
    return zlib.crc32(data)


def shingles(text: str) -> set[bytes]:
    """Character 5-grams of the normalised text (3-grams for Chinese: a character ~ a word)."""
    norm = normalise_sentence(text[:_SHINGLE_INPUT])
    size = 3 if detect_lang(norm) == "zh" else 5
    if len(norm) <= size:
        return {norm.encode("utf-8")}
    return {norm[i : i + size].encode("utf-8") for i in range(len(norm) - size + 1)}


def filter_candidates(cands: Iterable[Candidate], opts: InstructionSettings) -> FilterResult:
    from datasketch import MinHash, MinHashLSH

    result = FilterResult(kept=[])
    passed: list[Candidate] = []
    for cand in cands:
        reason = _check_one(cand, opts)
        if reason is None:
            passed.append(cand)
        else:
            result.reject(cand, reason)
    conflicts = _conflicting(passed)
    seen: set[tuple[str, str]] = set()
    lsh: dict[str, Any] = {}
    # One set of permutations for every signature (generating them per example is slow).
    template = MinHash(num_perm=opts.minhash_perm, seed=1, hashfunc=_crc32)
    for index, cand in enumerate(passed):
        norm = normalise_sentence(cand.content)
        if cand.task in CLASSIFICATION_TASKS and (cand.label_scope, norm) in conflicts:
            result.reject(cand, "label_conflict")
            continue
        key = (cand.task, norm or cand.content)
        if key in seen:
            result.reject(cand, "exact_duplicate")
            continue
        seen.add(key)
        if cand.near_dup_check:
            signature = MinHash(
                num_perm=opts.minhash_perm,
                seed=1,
                permutations=template.permutations,
                scheme=template.scheme,
                hashfunc=_crc32,
            )
            signature.update_batch(sorted(shingles(cand.content)))
            if cand.task not in lsh:
                # Banding parameters come from a numerical integration (~0.1 s): compute once.
                first = next(iter(lsh.values()), None)
                params = (first.b, first.r) if first is not None else None
                lsh[cand.task] = MinHashLSH(
                    threshold=opts.near_dup_threshold, num_perm=opts.minhash_perm, params=params
                )
            index_of_task = lsh[cand.task]
            if index_of_task.query(signature):
                result.reject(cand, "near_duplicate")
                continue
            index_of_task.insert(str(index), signature)
        result.kept.append(cand)
    log.info("filter kept %d, rejected %s", len(result.kept), dict(result.rejects))
    return result


def tokens(text: str) -> list[str]:
    """Words for English, characters for Chinese (the unit distinct-n counts)."""
    return [t.casefold() for t in _WORD.findall(text)]


def distinct_n(texts: Iterable[str], n: int) -> tuple[float, int]:
    """Distinct n-grams / all n-grams over ``texts`` and the n-gram count."""
    grams: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        toks = tokens(text)
        for i in range(len(toks) - n + 1):
            grams.add(tuple(toks[i : i + n]))
            total += 1
    return (len(grams) / total if total else 0.0), total


def diversity(examples: Sequence[tuple[str, str, str]]) -> dict[str, Any]:
    """distinct-1/2 of ``(task, lang, text)`` examples per language, distinct-2 per task.

    Measured on a deterministic sample of at most 20,000 examples, because distinct-n
    falls as a corpus grows: a fixed sample size keeps builds comparable.
    """
    sample = sorted(examples, key=lambda e: stable_hash("div", *e))[:_DIVERSITY_SAMPLE]
    out: dict[str, Any] = {"sample": len(sample), "by_lang": {}, "distinct_2_by_task": {}}
    by_lang: dict[str, list[str]] = defaultdict(list)
    by_task: dict[str, list[str]] = defaultdict(list)
    for task, lang, text in sample:
        by_lang[lang].append(text)
        by_task[task].append(text)
    for lang, texts in sorted(by_lang.items()):
        d1, n1 = distinct_n(texts, 1)
        d2, _ = distinct_n(texts, 2)
        out["by_lang"][lang] = {"distinct_1": round(d1, 4), "distinct_2": round(d2, 4), "tokens": n1}
    for task, texts in sorted(by_task.items()):
        out["distinct_2_by_task"][task] = round(distinct_n(texts, 2)[0], 4)
    return out
