"""What only the connectors' store computes from a text: document ids and near-dup keys.

Kept apart from any one connector because the ids and fingerprints must be computed the
same way for every source (they are what makes re-loading idempotent). The shared text
rules (normal form, language, PII) live in ``infinstruct.core.text``.
"""

from __future__ import annotations

import hashlib
import re

from infinstruct.core.text import HANDLE, URL, normalise

_WS = re.compile(r"\s+")
_FINGERPRINT_DROP = re.compile(r"[^\w\u3400-\u9fff]+|\d+|_")


def document_id(corpus: str, kind: str, content: str) -> str:
    """``sha256(corpus + kind + normalised content)[:32]`` (the data model's id rule)."""
    digest = hashlib.sha256(f"{corpus}\x1f{kind}\x1f{normalise(content)}".encode()).hexdigest()
    return digest[:32]


def fingerprint(text: str) -> str:
    """Near-duplicate key: lowercased text without URLs, @handles, digits and punctuation.

    Syndicated headlines (same words, other link) and copy-pasted replies (same words,
    other handle or ticket number) share it; an exact repeat is caught earlier by its id.
    """
    core = HANDLE.sub(" ", URL.sub(" ", text.lower()))
    core = _WS.sub(" ", _FINGERPRINT_DROP.sub(" ", core)).strip()
    if len(core) < 12:  # too little left to call two texts the same
        return ""
    return hashlib.sha1(core.encode()).hexdigest()[:24]
