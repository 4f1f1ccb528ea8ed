"""Seed a store with real instruction examples for the training tests (and manual runs).

Until the instruction builder ships, these rows stand in for its output: support replies
from the twcs tweets (customer tweet -> brand reply) and finance sentiment answers from the
Financial PhraseBank, split 80/10/10 by a hash of the source id.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from infinstruct.core.db import session_scope
from infinstruct.core.settings import Settings
from infinstruct.core.tables import InstructionExample, InstructionSet

SUPPORT_SYSTEM = "You are a friendly customer-support agent. Reply briefly and helpfully."


def _split(key: str) -> str:
    bucket = int(hashlib.md5(key.encode()).hexdigest()[:8], 16) % 10
    return "test" if bucket == 0 else "validation" if bucket == 1 else "train"


def support_pairs(twcs_csv: Path, limit: int) -> list[tuple[str, str, str]]:
    """``(thread key, customer text, agent reply)`` from twcs."""
    import pandas as pd

    frame = pd.read_csv(twcs_csv, index_col=0, dtype={"tweet_id": str, "author_id": str})
    frame = frame.dropna(subset=["text"])
    by_id = {str(r.tweet_id): r for r in frame.itertuples()}
    pairs = []
    seen: set[str] = set()
    for row in frame.itertuples():
        parent = row.in_response_to_tweet_id
        if str(row.inbound) == "True" or parent != parent:  # NaN: no parent
            continue
        asked = by_id.get(str(int(float(parent))))
        if asked is None or str(asked.inbound) != "True" or str(asked.tweet_id) in seen:
            continue
        seen.add(str(asked.tweet_id))
        pairs.append((str(asked.tweet_id), str(asked.text).strip(), str(row.text).strip()))
        if len(pairs) >= limit:
            break
    return pairs


def finance_pairs(phrasebank: Path, limit: int) -> list[tuple[str, str, str]]:
    out = []
    seen: set[str] = set()
    for line in phrasebank.read_text(encoding="utf-8", errors="replace").splitlines():
        sentence, _, label = line.rpartition("@")
        if sentence and label and sentence not in seen:
            seen.add(sentence)
            out.append(
                (
                    sentence,
                    f"What is the sentiment of this news for investors? {sentence}",
                    f"The sentiment is {label.strip()}.",
                )
            )
        if len(out) >= limit:
            break
    return out


def seed_examples(
    settings: Settings,
    *,
    twcs_csv: Path | None,
    phrasebank: Path | None,
    support: int = 700,
    finance: int = 500,
    name: str = "default",
) -> int:
    """Insert one instruction-set version with support and finance examples; returns its id."""
    with session_scope(settings) as session:
        iset = InstructionSet(name=name, version=1, input_hash="test-seed")
        session.add(iset)
        session.flush()
        assert iset.id is not None
        rows: list[InstructionExample] = []
        if twcs_csv is not None:
            for key, ask, reply in support_pairs(twcs_csv, support):
                rows.append(
                    InstructionExample(
                        set_id=iset.id,
                        id_hash=hashlib.sha1(f"s{key}".encode()).hexdigest(),
                        task="support_reply",
                        domain="support",
                        lang="en",
                        split=_split(key),
                        system=SUPPORT_SYSTEM,
                        messages=[{"role": "user", "content": ask}, {"role": "assistant", "content": reply}],
                        group_key=key,
                    )
                )
        if phrasebank is not None:
            for key, ask, reply in finance_pairs(phrasebank, finance):
                rows.append(
                    InstructionExample(
                        set_id=iset.id,
                        id_hash=hashlib.sha1(f"f{key}".encode()).hexdigest(),
                        task="sentiment",
                        domain="finance",
                        lang="en",
                        split=_split(key),
                        system="",
                        messages=[{"role": "user", "content": ask}, {"role": "assistant", "content": reply}],
                        group_key=key[:200],
                    )
                )
        session.add_all(rows)
        return iset.id
