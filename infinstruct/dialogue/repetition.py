"""Repetition control that looks at the reply only.

transformers' ``repetition_penalty`` and ``no_repeat_ngram_size`` count the prompt too, so a
reply that quotes a retrieved passage (which is the point of retrieval) would be punished
for it. These count each row's reply tokens only (the batching scheduler keeps them per
request).
"""

from __future__ import annotations

from typing import Any


def apply_reply_repetition(reply_ids: Any, scores: Any, *, penalty: float, ngram_size: int) -> Any:
    """Penalise tokens already in each row of ``reply_ids`` and ban n-gram repeats (in place)."""
    import torch

    if reply_ids.shape[1] == 0:
        return scores
    if penalty != 1.0:
        seen = torch.gather(scores, 1, reply_ids)
        seen = torch.where(seen < 0, seen * penalty, seen / penalty)
        scores.scatter_(1, reply_ids, seen)
    if ngram_size > 0 and reply_ids.shape[1] >= ngram_size:
        for row, banned in enumerate(_banned_next_tokens(reply_ids.tolist(), ngram_size)):
            if banned:
                scores[row, banned] = float("-inf")
    return scores


def _banned_next_tokens(rows: list[list[int]], n: int) -> list[list[int]]:
    """For each row: tokens that would complete an n-gram the row already contains."""
    out: list[list[int]] = []
    for ids in rows:
        prefix = tuple(ids[len(ids) - n + 1 :]) if n > 1 else ()
        banned = [ids[i + n - 1] for i in range(len(ids) - n + 1) if tuple(ids[i : i + n - 1]) == prefix]
        out.append(banned)
    return out
