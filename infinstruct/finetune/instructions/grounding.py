"""Reply examples carry their retrieved context, in the format the chat shows the model.

At answer time the chat gives the model the nearest real agent replies (and passages) in a
data block before the customer's message (``chat.prompts.grounded_user_message``).
A model trained on bare question -> reply pairs never learns to use that block, so every
``support_reply``/``dialogue_reply`` example gets the same block here: the replies that agents
gave to the most similar customer messages of the train split, never from its own group
(its brand or conversation), so the context is a hint and never the answer itself.

Similarity is TF-IDF over character n-grams (language independent, no model to load); the
chat uses MiniLM, which finds the same kind of neighbours on these short messages.
"""

from __future__ import annotations

from typing import Any

from infinstruct.chat.prompts import Delimiters, grounded_user_message, grounding_note
from infinstruct.core.tasks import REPLY_TASKS
from infinstruct.finetune.instructions.textnorm import stable_hash


def _last_user(messages: list[dict[str, str]]) -> int:
    return max((i for i, m in enumerate(messages) if m["role"] == "user"), default=-1)


def ground_rows(rows: list[dict[str, Any]], *, replies: int, reply_chars: int) -> int:
    """Rewrite the last customer message of each reply row in place; returns how many."""
    targets = [r for r in rows if r["task"] in REPLY_TASKS and _last_user(r["messages"]) >= 0]
    pool = [r for r in targets if r["split"] == "train"]
    if not targets or not pool or replies < 1:
        return 0
    from sklearn.feature_extraction.text import TfidfVectorizer

    def query(row: dict[str, Any]) -> str:
        return str(row["messages"][_last_user(row["messages"])]["content"])

    def answer(row: dict[str, Any]) -> str:
        i = _last_user(row["messages"])
        return str(row["messages"][i + 1]["content"]) if i + 1 < len(row["messages"]) else ""

    vectoriser = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=1, sublinear_tf=True)
    pool_matrix = vectoriser.fit_transform([query(r) for r in pool])
    pool_groups = [r["group_key"] for r in pool]
    pool_answers = [answer(r) for r in pool]
    done = 0
    for start in range(0, len(targets), 512):
        chunk = targets[start : start + 512]
        sims = (vectoriser.transform([query(r) for r in chunk]) @ pool_matrix.T).toarray()
        for row, scores in zip(chunk, sims, strict=True):
            own = answer(row)
            chosen: list[str] = []
            for j in scores.argsort()[::-1][: 8 * replies]:
                if pool_groups[j] == row["group_key"] or not pool_answers[j] or pool_answers[j] == own:
                    continue
                if pool_answers[j] not in chosen:
                    chosen.append(pool_answers[j])
                if len(chosen) == replies:
                    break
            _rewrite(row, chosen, reply_chars)
            done += 1
    return done


def _rewrite(row: dict[str, Any], replies: list[str], reply_chars: int) -> None:
    messages = [dict(m) for m in row["messages"]]
    i = _last_user(messages)
    # the chat's question index reads the bare exchange, not the grounded message
    row["meta"] = {
        **row["meta"],
        "question": messages[i]["content"],
        "reply": messages[i + 1]["content"] if i + 1 < len(messages) else "",
    }
    # a deterministic tag per example: a rebuild gives the same set, the tag still varies
    marks = Delimiters(f"{stable_hash('tag', row['id_hash']) % 16**8:08x}")
    messages[i]["content"] = grounded_user_message(
        messages[i]["content"], replies=replies, delimiters=marks, reply_chars=reply_chars
    )
    row["messages"] = messages
    zh = row["meta"].get("content_lang") == "zh"
    row["system"] = row["system"] + grounding_note(marks, zh=zh)
