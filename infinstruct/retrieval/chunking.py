"""Sentence-aware chunking with overlap, for English and Chinese.

Long texts (news articles, item descriptions, long dialogues) are cut into chunks of about
``chunk_chars`` characters at sentence ends, so a chunk never starts mid-sentence unless a
single sentence is longer than a chunk. Neighbouring chunks share about ``overlap``
characters of whole sentences, so an answer that straddles a boundary is still found.
"""

from __future__ import annotations

from infinstruct.core.text import split_sentences


def _hard_split(sentence: str, size: int) -> list[str]:
    """A sentence longer than a chunk, cut at spaces where possible, else at ``size``."""
    out: list[str] = []
    rest = sentence
    while len(rest) > size:
        cut = rest.rfind(" ", size // 2, size)
        cut = cut if cut > 0 else size
        out.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        out.append(rest)
    return out


def _joiner(left: str, right: str) -> str:
    """Chinese sentences join without a space; everything else with one."""
    if left and right and (_is_cjk(left[-1]) or _is_cjk(right[0])):
        return ""
    return " "


def _is_cjk(char: str) -> bool:
    return "\u3000" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef"


def chunk_text(text: str, *, chunk_chars: int = 800, overlap: int = 120) -> list[str]:
    """Cut ``text`` into chunks of at most ~``chunk_chars`` characters with sentence overlap.

    A text that fits in one chunk comes back whole (stripped). ``overlap`` must be smaller
    than ``chunk_chars``.
    """
    if chunk_chars <= 0:
        raise ValueError(f"chunk_chars must be > 0 (got {chunk_chars})")
    if not 0 <= overlap < chunk_chars:
        raise ValueError(f"overlap must be in [0, chunk_chars) (got {overlap} for {chunk_chars})")
    stripped = text.strip()
    if len(stripped) <= chunk_chars:
        return [stripped] if stripped else []
    units: list[str] = []
    for sentence in split_sentences(stripped):
        units.extend(_hard_split(sentence, chunk_chars) if len(sentence) > chunk_chars else [sentence])

    chunks: list[str] = []
    current: list[str] = []
    length = 0
    for unit in units:
        if current and length + 1 + len(unit) > chunk_chars:
            chunks.append(_join(current))
            # Carry whole trailing sentences, up to ``overlap`` characters, into the next chunk.
            carried: list[str] = []
            carried_len = 0
            for previous in reversed(current):
                if carried_len + len(previous) > overlap:
                    break
                carried.insert(0, previous)
                carried_len += len(previous) + 1
            if carried_len + len(unit) > chunk_chars:
                carried, carried_len = [], 0
            current, length = carried, carried_len
        current.append(unit)
        length += len(unit) + 1
    if current:
        chunks.append(_join(current))
    return chunks


def _join(units: list[str]) -> str:
    out = units[0]
    for unit in units[1:]:
        out += _joiner(out, unit) + unit
    return out
