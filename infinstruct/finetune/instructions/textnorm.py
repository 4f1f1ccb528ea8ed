"""Text normalisation the builder relies on: sentence keys, language, PII, Chinese spacing.

The sentence key is what makes splits leak-free across corpora: two files that hold the
same sentence (Financial PhraseBank's nested agreement files, a tweet re-posted with a
different link) produce the same key, hence the same split and an exact-duplicate reject.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata

_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
# ECD and other word-segmented Chinese corpora put spaces between words; a model should
# learn unsegmented text, so spaces between two CJK characters (or CJK punctuation) go.
_CJK_OR_PUNCT = r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]"
_SEGMENT_SPACE = re.compile(rf"(?<={_CJK_OR_PUNCT})[ \t]+(?={_CJK_OR_PUNCT})")
_SPACES = re.compile(r"[ \t]+")

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_PHONE = re.compile(r"(?<![\w.])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}(?![\w.])")
_CN_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_CN_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){13,19}(?!\d)")
_CASHTAG = re.compile(r"\$([A-Z]{1,5}(?:\.[A-Z])?)\b")


_HANDLE = re.compile(r"(?<![\w@])@\w{1,30}")
#: A sign-off after the reply: ``^AB``, ``-Becky``, ``- KC``, ``*JS``, ``~Mike``, ``/TM``.
_SIGNATURE = re.compile(r"(?:\s*(?:\^|[-–—~*/]\s?)[A-Z][A-Za-z]{0,11}(?:\s[A-Z][A-Za-z]{0,11})?\.?)+\s*$")
_CONTACT_LEFTOVER = re.compile(r"\b(?:at|on|via|to|call|email|e-mail|visit|here)\s*[:.,]?\s*$", re.IGNORECASE)
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:])")
#: Initials anywhere (a merged multi-tweet reply signs each tweet) and tweet counters ("1/2").
_CARET_SIGNATURE = re.compile(r"\s*\^\s?[A-Z][A-Za-z]{0,11}\b")
_TWEET_COUNTER = re.compile(r"\s*\(?(?<![\d/])\d{1,2}/\d{1,2}\)?(?![\d/])(?=\s|$)")
#: Any digit run with separators that holds seven or more digits (phone numbers in any format).
_LONG_NUMBER = re.compile(r"(?<!\w)\+?\d[\d\s().-]{5,}\d(?!\w)")


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _drop_long_numbers(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        found = match.group(0)
        keep = _ISO_DATE.match(found.strip()) or sum(c.isdigit() for c in found) < 7
        return found if keep else " "

    return _LONG_NUMBER.sub(repl, text)


def clean_reply(text: str) -> str:
    """An agent's or customer's message without @handles, links, contacts or a signature.

    Twitter support replies open with the customer's @handle, end with the agent's initials
    (``^AB``, ``-Becky``) and carry t.co links and phone numbers: a model trained on them
    learns to produce handles, initials and made-up numbers. What is left is the reply itself;
    a message that was only a handle or a link comes back empty (the caller drops it).
    """
    text = html.unescape(text)
    text = _URL.sub(" ", text)
    text = _EMAIL.sub(" ", text)
    text = _TWEET_COUNTER.sub(" ", _CARET_SIGNATURE.sub(" ", text))
    text = _PHONE.sub(" ", _CN_MOBILE.sub(" ", _drop_long_numbers(text)))
    text = _HANDLE.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    text = _SIGNATURE.sub("", text).strip()
    lines = [_SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", line)).strip() for line in text.splitlines()]
    text = "\n".join(line for line in lines if line)
    # "call us at <number>" lost its number: drop the dangling preposition with it
    return _CONTACT_LEFTOVER.sub("", text).strip(" ,;:-")


def normalise_sentence(text: str) -> str:
    """Case-, width-, punctuation- and link-insensitive form of a sentence."""
    text = unicodedata.normalize("NFKC", text)
    text = _URL.sub(" ", text).casefold()
    return _NON_WORD.sub(" ", text).strip()


def sentence_key(text: str) -> str:
    """A short stable key of the normalised sentence (the split group of labelled rows)."""
    return hashlib.sha256(normalise_sentence(text).encode("utf-8")).hexdigest()[:24]


def stable_hash(*parts: object) -> int:
    """A process-independent 64-bit hash (Python's ``hash`` is salted per process)."""
    joined = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(joined.encode("utf-8")).digest()[:8], "big")


def unit_interval(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts``."""
    return stable_hash(*parts) / 2**64


def detect_lang(text: str) -> str | None:
    """``zh`` or ``en`` by the share of CJK characters among letters; None without letters."""
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if cjk == 0 and latin == 0:
        return None
    # A Chinese character carries about a word, an English word about five letters; Chinese
    # finance text quotes tickers and English names, so compare characters to words.
    return "zh" if cjk >= 2 and cjk * 5 >= latin else "en"


def tidy(text: str, lang: str) -> str:
    """Strip, collapse runs of spaces, and undo word segmentation in Chinese text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if lang == "zh":
        text = _SEGMENT_SPACE.sub("", text)
    return _SPACES.sub(" ", text)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def find_pii(text: str) -> str | None:
    """The kind of the first personal datum left in ``text`` (after the connectors' scrub)."""
    if _EMAIL.search(text):
        return "email"
    if _PHONE.search(text) or _CN_MOBILE.search(text):
        return "phone"
    if _CN_ID.search(text):
        return "national_id"
    for match in _CARD.finditer(text):
        digits = re.sub(r"\D", "", match.group(0))
        if 13 <= len(digits) <= 19 and _luhn_ok(digits) and len(set(digits)) > 1:
            return "card_number"
    return None


def cashtags(text: str) -> list[str]:
    """``$TSLA``-style tickers in order of first appearance, without the dollar sign."""
    seen: list[str] = []
    for tag in _CASHTAG.findall(text):
        if tag not in seen:
            seen.append(tag)
    return seen
