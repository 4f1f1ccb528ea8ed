"""Text normalisation shared by connectors and the store: ids, language, PII, near-dups.

Kept apart from any one connector because the ids and fingerprints must be computed the
same way for every source (they are what makes re-loading idempotent).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_WS = re.compile(r"\s+")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LETTER = re.compile(r"[A-Za-z\u3400-\u4dbf\u4e00-\u9fff]")
#: jieba inserts spaces between words; between two CJK characters a space is never real.
_CJK_GAP = re.compile(
    r"(?<=[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef])\s+(?=[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef])"
)

_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w@])@\w{1,30}")
_FINGERPRINT_DROP = re.compile(r"[^\w\u3400-\u9fff]+|\d+|_")


def normalise(text: str) -> str:
    """NFC, whitespace collapsed, trimmed: the form ids are computed on."""
    return _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()


def document_id(corpus: str, kind: str, content: str) -> str:
    """``sha256(corpus + kind + normalised content)[:32]`` (the data model's id rule)."""
    digest = hashlib.sha256(f"{corpus}\x1f{kind}\x1f{normalise(content)}".encode()).hexdigest()
    return digest[:32]


def detect_lang(text: str) -> str:
    """``zh`` when at least a fifth of the letters are CJK ideographs, else ``en``."""
    letters = len(_LETTER.findall(text))
    if letters == 0:
        return "en"
    return "zh" if len(_CJK.findall(text)) / letters >= 0.2 else "en"


def join_cjk(text: str) -> str:
    """Undo word segmentation: drop the spaces between two CJK characters, keep the rest."""
    return _CJK_GAP.sub("", text).strip()


def fingerprint(text: str) -> str:
    """Near-duplicate key: lowercased text without URLs, @handles, digits and punctuation.

    Syndicated headlines (same words, other link) and copy-pasted replies (same words,
    other handle or ticket number) share it; an exact repeat is caught earlier by its id.
    """
    core = _HANDLE.sub(" ", _URL.sub(" ", text.lower()))
    core = _WS.sub(" ", _FINGERPRINT_DROP.sub(" ", core)).strip()
    if len(core) < 12:  # too little left to call two texts the same
        return ""
    return hashlib.sha1(core.encode()).hexdigest()[:24]


def sentence_key(text: str) -> str:
    """A split key for a sentence: the hash of its lower-cased normalised form."""
    return hashlib.sha1(normalise(text).lower().encode()).hexdigest()[:16]


# -- PII -------------------------------------------------------------------------------
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_CARD = re.compile(r"\b\d(?:[ -]?\d){12,18}\b")
#: Separated digit groups only (a bare long number is more often an order id or an amount).
_PHONE = re.compile(
    r"(?<![\w.,])(?:\+\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?![\w.,]?\d)"
    r"|(?<![\w.,])\+\d{1,3}[ -]\d[\d -]{6,13}\d(?!\w)"
)
_DIGITS = re.compile(r"\d{3}\D{0,3}\d{3}")
_TOKEN_URL = re.compile(
    r"https?://[^\s?#]+\?[^\s]*(?:token|key|sig|signature|auth|session|code|access)[^\s]*", re.IGNORECASE
)


def scrub_pii(text: str) -> str:
    """Replace e-mails, card and phone numbers, @handles and URLs carrying tokens by tags."""
    if not text:
        return text
    # Cheap guards first: most texts hold no '@', no URL and few digits (10x faster).
    if "http" in text:
        text = _TOKEN_URL.sub("<URL>", text)
    if "@" in text:
        text = _HANDLE.sub("@user", _EMAIL.sub("<EMAIL>", text))
    if _DIGITS.search(text):
        text = _CARD.sub(lambda m: "<CARD>" if _luhn(m.group()) else m.group(), text)
        text = _PHONE.sub("<PHONE>", text)
    return text


def _luhn(candidate: str) -> bool:
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0
