"""The check every generated reply passes before a customer sees it.

A small model fails in recognisable ways: it answers with a class label
(``declined_card_payment``), repeats the question, loops (``@user @user @user``,
``看见订单；看见订单；…``), switches language, recites its prompt or passages, or invents
contact details ("call 1-800-899-9999"). Each is detected here by a plain rule, so a
rejection names its reason; the router then falls through to the next route and finally to a
hand-off, and counts the reasons in the answer's metadata (``Answer.rejections``).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from infinstruct.core.text import is_chinese

#: Every reason a reply can be rejected for, in the order they are checked.
REASONS: tuple[str, ...] = (
    "empty",
    "label",
    "degenerate",
    "echo",
    "wrong_language",
    "recital",
    "invented_contact",
)

_WORD = re.compile(r"\w+", re.UNICODE)
_SNAKE_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[_\-][A-Za-z0-9]+)+$")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s)>\]]+|\b[\w-]+\.(?:com|net|org|io|co|cn|uk)(?:/[^\s)>\]]*)?\b", re.I
)
_PHONE = re.compile(r"(?<![\w])\+?\d[\d\s().-]{6,}\d(?![\w])")
#: Template placeholders a model copies from training text ("contact us at [address]").
_PLACEHOLDER = re.compile(r"\[(?:address|phone|email|e-mail|number|url|link|name|website)[^\]]*\]", re.I)
_DIGITS = re.compile(r"\D")
#: The grounding block's own headings and bullets (``prompts.grounded_user_message``) opening a
#: reply: the model is continuing the prompt, not answering.
_BLOCK_FORMAT = re.compile(
    r"^\s*(?:客服对|顾客\s*[:：]|参考资料|Customer\s*:|Replies our agents|Help passages|[-•]\s|\[\d+\]\s)",
    re.IGNORECASE,
)
_DELIMITER = re.compile(r"<<<?|>>>?|\b(?:DATA|END) [0-9a-f]{8}\b")


@dataclass(frozen=True)
class Verdict:
    """``ok`` or the first failed ``reason`` (with a short ``detail`` for logs)."""

    reason: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass
class ReplyContext:
    """What a reply is judged against: the question, the prompt, what it may quote."""

    question: str
    system: str = ""
    #: Passage text shown to the model: reciting it is a rejection.
    recitable: Sequence[str] = ()
    #: Text whose contact details a reply may repeat (sources, past replies, curated answers).
    allowed: Sequence[str] = ()
    #: Class labels known to the store (intents, sentiments): a reply that is one is rejected.
    labels: Iterable[str] = field(default_factory=tuple)


def _norm(text: str) -> str:
    return " ".join(_WORD.findall(unicodedata.normalize("NFKC", text).casefold()))


def _units(text: str) -> list[str]:
    """Words, or characters for Chinese (which has no spaces between words)."""
    if is_chinese(text):
        return [c for c in unicodedata.normalize("NFKC", text) if not c.isspace()]
    return _norm(text).split()


def is_label(reply: str, labels: Iterable[str] = ()) -> bool:
    """A bare class label: ``snake_case``/``kebab-case`` or one of the store's labels."""
    text = reply.strip().strip(".!\"'`").strip()
    if not text:
        return False
    if _SNAKE_LABEL.match(text) or (" " not in text and "_" in text):
        return True
    key = _norm(text.replace("_", " "))
    known = {_norm(label.replace("_", " ")) for label in labels}
    return key in known


def is_degenerate(reply: str) -> str:
    """Why ``reply`` is degenerate ("" when it is not): one character, a loop, @-mention runs."""
    chars = [c for c in reply if not c.isspace()]
    if len(chars) >= 8:
        top = Counter(chars).most_common(1)[0][1]
        if top / len(chars) >= 0.4 and len(set(chars)) <= max(3, len(chars) // 6):
            return "one character"
    if len(re.findall(r"@\w+", reply)) >= 3:
        return "mention run"
    units = _units(reply)
    zh = is_chinese(reply)
    for n in (2, 3, 4, 6) if zh else (1, 2, 3, 4):
        if len(units) < n * 3:
            continue
        grams = Counter(tuple(units[i : i + n]) for i in range(len(units) - n + 1))
        gram, count = grams.most_common(1)[0]
        # A loop: the same n-gram three or more times, covering a good part of the reply.
        if count >= (4 if n == 1 else 3) and count * n / len(units) >= (0.5 if n == 1 else 0.35):
            return f"repeats {' '.join(gram)!r} {count} times"
    return ""


#: At most this many characters of a Chinese reply that is mostly the question's own may be new.
_ZH_ECHO_NEW_CHARS = 6


def is_echo(reply: str, question: str) -> bool:
    """The question said back: the same words, or nearly all of the reply taken from it."""
    said, asked = _units(reply), _units(question)
    if not said or not asked:
        return False
    if said == asked:
        return True
    overlap = sum((Counter(said) & Counter(asked)).values())
    if overlap / len(said) >= 0.85 and overlap / len(asked) >= 0.6:
        return True
    # Chinese: a short reply built mostly from the question's own characters ("请问可以退货吗？"
    # -> "我们可以退货吗？") says nothing new, though a few characters differ.
    return is_chinese(question) and overlap / len(said) >= 0.6 and len(said) - overlap <= _ZH_ECHO_NEW_CHARS


def recites(reply: str, texts: Iterable[str], *, window: int = 8) -> bool:
    """``reply`` repeats ``window`` consecutive words (characters for Chinese) of one of ``texts``."""
    said = _units(reply)
    if len(said) < window:
        return False
    grams = {tuple(said[i : i + window]) for i in range(len(said) - window + 1)}
    for text in texts:
        units = _units(text)
        if any(tuple(units[i : i + window]) in grams for i in range(len(units) - window + 1)):
            return True
    return False


def contacts(text: str) -> list[str]:
    """Phone numbers, e-mail addresses, links and contact placeholders in ``text``."""
    found = [m.group(0) for m in _EMAIL.finditer(text)]
    rest = _EMAIL.sub(" ", text)
    found += [m.group(0) for m in _URL.finditer(rest)]
    found += [
        m.group(0) for m in _PHONE.finditer(_URL.sub(" ", rest)) if len(_DIGITS.sub("", m.group(0))) >= 7
    ]
    found += [m.group(0) for m in _PLACEHOLDER.finditer(text)]
    return found


def invented_contacts(reply: str, allowed: Iterable[str]) -> list[str]:
    """Contact details in ``reply`` that appear in none of ``allowed`` (placeholders always)."""
    pool = " ".join(allowed).casefold()
    digits_pool = _DIGITS.sub("", pool)
    out = []
    for item in contacts(reply):
        if _PLACEHOLDER.fullmatch(item):
            out.append(item)
        elif item[0].isdigit() or item[0] in "+(":
            if _DIGITS.sub("", item) not in digits_pool:
                out.append(item)
        elif item.casefold().rstrip(".,;") not in pool:
            out.append(item)
    return out


def check_reply(reply: str, ctx: ReplyContext) -> Verdict:
    """The first rule ``reply`` breaks, or an ok verdict."""
    text = reply.strip()
    if len(_WORD.findall(text)) == 0 or len(text) < 2:
        return Verdict("empty")
    if is_label(text, ctx.labels):
        return Verdict("label", text[:60])
    why = is_degenerate(text)
    if why:
        return Verdict("degenerate", why)
    if is_echo(text, ctx.question):
        return Verdict("echo")
    if is_chinese(ctx.question) != is_chinese(text):
        return Verdict("wrong_language")
    if _DELIMITER.search(text) or _BLOCK_FORMAT.match(text):  # the prompt's format leaking out
        return Verdict("recital", "prompt format")
    if (ctx.system and recites(text, [ctx.system], window=6)) or recites(text, ctx.recitable):
        return Verdict("recital")
    invented = invented_contacts(text, [*ctx.allowed, ctx.question])
    if invented:
        return Verdict("invented_contact", ", ".join(invented)[:120])
    return Verdict()
