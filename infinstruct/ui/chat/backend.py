"""The customer page's backend: every handler reaches the router and the store through it.

Errors become plain sentences in the customer's language here; the fix (a setting, a
command) goes to the log, where the operator reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from infinstruct.chat.answers import Answer, Source
from infinstruct.chat.customer_view import customer_answer
from infinstruct.core.errors import InfinstructError, InputError, LimitError, NotFoundError
from infinstruct.core.ratelimit import RateLimiter, RateLimitError
from infinstruct.ui.chat.texts import say
from infinstruct.ui.chat.view import recommendations_markdown

if TYPE_CHECKING:
    from infinstruct.chat.router import ChatRouter

log = logging.getLogger(__name__)

Recommend = Callable[[str, int], list[Source]]


def _has_catalogue(router: ChatRouter) -> Callable[[], bool]:
    def check() -> bool:
        from infinstruct.recommend.store import item_corpora

        return bool(item_corpora(router.settings))

    return check


@dataclass
class ChatPage:
    """What the customer page needs; ``build_chat_ui`` makes one from the router."""

    router: ChatRouter
    recommend: Recommend | None = None
    limiter: RateLimiter | None = None
    has_catalogue: Callable[[], bool] | None = None
    rec_count: int = 10
    _public: Callable[[], frozenset[str]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.limiter = self.limiter or RateLimiter(self.router.settings.chat.rate_limit_per_minute)
        self.has_catalogue = self.has_catalogue or _has_catalogue(self.router)

    def public_corpora(self) -> frozenset[str]:
        from infinstruct.core.corpus_visibility import public_corpora

        return self._public() if self._public else public_corpora(self.router.settings)

    def view(self, answer: Answer) -> dict[str, Any]:
        """The customer's view of ``answer``: readable sources from public corpora only."""
        return customer_answer(answer, self.public_corpora())

    def plain_error(self, exc: BaseException, lang: str) -> str:
        """A sentence for the customer; the real message (with its fix) goes to the log."""
        if isinstance(exc, RateLimitError):
            key = "err_rate"
        elif isinstance(exc, LimitError):
            key = "err_too_long"
        elif isinstance(exc, InputError):
            key = "err_input"
        else:
            key = "err_internal"
        if isinstance(exc, InfinstructError):
            log.warning("chat: %s", exc)
        else:
            log.exception("chat failed", exc_info=exc)
        return say(key, lang)

    def check_rate(self, client: str) -> None:
        assert self.limiter is not None
        self.limiter.check(client)

    def feedback(self, turn_id: int | None, value: int, comment: str, client: str, lang: str) -> str:
        from infinstruct.chat.conversations import add_feedback

        if turn_id is None:
            return say("ask_first", lang)
        add_feedback(self.router.settings, int(turn_id), value, comment=comment or "", client=client)
        return say("thanks", lang)

    def catalogue_ready(self) -> bool:
        assert self.has_catalogue is not None
        try:
            return self.recommend is not None and self.has_catalogue()
        except InfinstructError:
            return False

    def recommendations(self, text: str, lang: str) -> str:
        """Markdown of the items for ``text``, or a plain sentence."""
        if self.recommend is None:
            return say("rec_unavailable", lang)
        if not (text or "").strip():
            return say("rec_empty_input", lang)
        try:
            items = self.recommend(text.strip(), self.rec_count)
        except NotFoundError as exc:
            log.warning("recommendations: %s", exc)
            return say("rec_unavailable", lang)
        return recommendations_markdown(items) if items else say("rec_none", lang)
