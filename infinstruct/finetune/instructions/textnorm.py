"""Text rules only the builder needs: reply cleaning, cashtags, deterministic hashing.

Sentence keys, language, PII and Chinese spacing are shared with the connectors and live
in ``infinstruct.core.text``.
"""

from __future__ import annotations

import hashlib
import html
import re

from infinstruct.core.text import CN_MOBILE, EMAIL, HANDLE, PHONE, URL

_SPACES = re.compile(r"[ \t]+")
_CASHTAG = re.compile(r"\$([A-Z]{1,5}(?:\.[A-Z])?)\b")


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
    text = URL.sub(" ", text)
    text = EMAIL.sub(" ", text)
    text = _TWEET_COUNTER.sub(" ", _CARET_SIGNATURE.sub(" ", text))
    text = PHONE.sub(" ", CN_MOBILE.sub(" ", _drop_long_numbers(text)))
    text = HANDLE.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    text = _SIGNATURE.sub("", text).strip()
    lines = [_SPACE_BEFORE_PUNCT.sub(r"\1", _SPACES.sub(" ", line)).strip() for line in text.splitlines()]
    text = "\n".join(line for line in lines if line)
    # "call us at <number>" lost its number: drop the dangling preposition with it
    return _CONTACT_LEFTOVER.sub("", text).strip(" ,;:-")


def stable_hash(*parts: object) -> int:
    """A process-independent 64-bit hash (Python's ``hash`` is salted per process)."""
    joined = "\x1f".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(joined.encode("utf-8")).digest()[:8], "big")


def unit_interval(*parts: object) -> float:
    """A deterministic number in [0, 1) from ``parts``."""
    return stable_hash(*parts) / 2**64


def cashtags(text: str) -> list[str]:
    """``$TSLA``-style tickers in order of first appearance, without the dollar sign."""
    seen: list[str] = []
    for tag in _CASHTAG.findall(text):
        if tag not in seen:
            seen.append(tag)
    return seen
