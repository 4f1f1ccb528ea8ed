"""The text rules every layer shares: language, normal forms, PII, sentences.

One home for each rule because the copies drifted: four language detectors answered "AAPL 跌"
differently depending on whether the connector, the instruction builder, the chat router or
the lexical index asked. Anything here is pure (no I/O, no settings) so the kernel can hold it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Literal

Lang = Literal["zh", "en"]

#: CJK ideographs (extension A, the unified block, compatibility ideographs).
CJK_CHARS = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
#: The same plus CJK punctuation and full-width forms (what may stand either side of a
#: word-segmentation space).
_CJK_OR_PUNCT = rf"[{CJK_CHARS}\u3000-\u303f\uff00-\uffef]"
CJK = re.compile(f"[{CJK_CHARS}]")
_LATIN = re.compile(r"[A-Za-z]")


# -- language ----------------------------------------------------------------------------
def detect_lang(text: str) -> Lang | None:
    """``zh`` or ``en`` by CJK ideographs against Latin letters; None without either.

    One Chinese character carries about a word and one English word about five letters, so a
    text is Chinese when its ideographs times five reach its Latin letters. Chinese finance
    and support text quotes tickers and brand names ("AAPL 跌", "紫金矿业 NVIDIA 今天涨停"):
    a Chinese customer who writes them expects Chinese, and the rule says zh. An English
    sentence that quotes a Chinese name ("Shares of 阿里巴巴 rose after the earnings call")
    stays en. A bare share of characters (the old connector rule) or a minimum of two
    ideographs (the old builder rule) disagreed on exactly these mixed texts.
    """
    cjk = len(CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if cjk == 0 and latin == 0:
        return None
    return "zh" if cjk * 5 >= latin and cjk > 0 else "en"


def is_chinese(text: str) -> bool:
    """``detect_lang(text) == "zh"``, for callers that pick between two texts."""
    return detect_lang(text) == "zh"


# -- normal forms ----------------------------------------------------------------------
_WS = re.compile(r"\s+")
_SPACES = re.compile(r"[ \t]+")
#: Jieba and word-segmented corpora (ECD) put spaces between words; between two CJK
#: characters a space is never real. Line breaks are structure and stay.
_SEGMENT_SPACE = re.compile(rf"(?<={_CJK_OR_PUNCT})[ \t]+(?={_CJK_OR_PUNCT})")
URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalise(text: str) -> str:
    """NFC, whitespace collapsed, trimmed: the form document ids are computed on."""
    return _WS.sub(" ", unicodedata.normalize("NFC", text)).strip()


def join_cjk(text: str) -> str:
    """Undo word segmentation: drop the spaces between two CJK characters, keep the rest."""
    return _SEGMENT_SPACE.sub("", text).strip()


def tidy(text: str, lang: str) -> str:
    """Strip, collapse runs of spaces, and undo word segmentation in Chinese text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if lang == "zh":
        text = _SEGMENT_SPACE.sub("", text)
    return _SPACES.sub(" ", text)


def normalise_sentence(text: str) -> str:
    """Case-, width-, punctuation- and link-insensitive form of a sentence."""
    text = unicodedata.normalize("NFKC", text)
    text = URL.sub(" ", text).casefold()
    return _NON_WORD.sub(" ", text).strip()


def sentence_key(text: str) -> str:
    """A short stable key of the normalised sentence: the split group of labelled rows.

    Two files that hold the same sentence (Financial PhraseBank's nested agreement files, a
    tweet re-posted with another link) get the same key, hence the same split.
    """
    return hashlib.sha256(normalise_sentence(text).encode("utf-8")).hexdigest()[:24]


# -- sentences ---------------------------------------------------------------------------
#: A sentence ends after . ! ? followed by space ("3.5" is not an end) or after the Chinese
#: 。！？； (no space needed), either optionally followed by closing quotes or brackets; line
#: breaks end a unit too (dialogue turns, summary lines).
SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)\]]*\s+|(?<=[。！？；])[\"'”’」』）)]*|\n+")


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` in order, each stripped, the terminator kept; no empties."""
    pieces: list[str] = []
    start = 0
    for match in SENTENCE_END.finditer(text):
        end = match.end()
        if end <= start:
            continue
        piece = text[start:end].strip()
        if piece:
            pieces.append(piece)
        start = end
    tail = text[start:].strip()
    if tail:
        pieces.append(tail)
    return pieces


# -- PII ---------------------------------------------------------------------------------
# One list of what counts as personal data: the connectors scrub it on the way in and the
# instruction builder rejects an example that still holds it (a corpus loaded without
# scrubbing), so both must look for the same things.
HANDLE = re.compile(r"(?<![\w@])@\w{1,30}")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_CARD = re.compile(r"(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)")
#: Separated digit groups only (a bare long number is more often an order id or an amount).
PHONE = re.compile(
    r"(?<![\w.,])(?:\+\d{1,3}[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?![\w.,]?\d)"
    r"|(?<![\w.,])\+\d{1,3}[ -]\d[\d -]{6,13}\d(?!\w)"
)
CN_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_CN_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
_DIGITS = re.compile(r"\d{3}\D{0,3}\d{3}")
_TOKEN_URL = re.compile(
    r"https?://[^\s?#]+\?[^\s]*(?:token|key|sig|signature|auth|session|code|access)[^\s]*", re.IGNORECASE
)


def _is_card(candidate: str) -> bool:
    """13 to 19 digits passing the Luhn check, not one digit repeated."""
    digits = [int(c) for c in candidate if c.isdigit()]
    if not 13 <= len(digits) <= 19 or len(set(digits)) == 1:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _is_cn_id(candidate: str) -> bool:
    """A resident ID (GB 11643): a real birth date at digits 7-14 and the MOD 11-2 check
    character. Taobao order numbers are 18-19 digits too; without both checks every one of
    them would be scrubbed as a person's ID."""
    import datetime as dt

    try:
        born = dt.date(int(candidate[6:10]), int(candidate[10:12]), int(candidate[12:14]))
    except ValueError:
        return False
    if not 1900 <= born.year <= dt.date.today().year:
        return False
    total = sum(int(d) * w for d, w in zip(candidate[:17], _ID_WEIGHTS, strict=True))
    return "10X98765432"[total % 11] == candidate[17].upper()


def scrub_pii(text: str) -> str:
    """Replace e-mails, card, phone and ID numbers, @handles and URLs carrying tokens by tags."""
    if not text:
        return text
    # Cheap guards first: most texts hold no '@', no URL and few digits (10x faster).
    if "http" in text:
        text = _TOKEN_URL.sub("<URL>", text)
    if "@" in text:
        text = HANDLE.sub("@user", EMAIL.sub("<EMAIL>", text))
    if _DIGITS.search(text):
        text = _CARD.sub(lambda m: "<CARD>" if _is_card(m.group()) else m.group(), text)
        text = _CN_ID.sub(lambda m: "<ID>" if _is_cn_id(m.group()) else m.group(), text)
        text = CN_MOBILE.sub("<PHONE>", PHONE.sub("<PHONE>", text))
    return text


def find_pii(text: str) -> str | None:
    """The kind of the first personal datum left in ``text`` (what ``scrub_pii`` replaces)."""
    if EMAIL.search(text):
        return "email"
    if PHONE.search(text) or CN_MOBILE.search(text):
        return "phone"
    if any(_is_cn_id(m.group()) for m in _CN_ID.finditer(text)):
        return "national_id"
    if any(_is_card(m.group()) for m in _CARD.finditer(text)):
        return "card_number"
    return None
