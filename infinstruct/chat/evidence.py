"""The outside sources the router consults: the retrieval index and the recommender.

Both are looked up through small callables so the router can be tested with the real
index and runs without a recommender (the route is skipped until one exists).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from infinstruct.chat.answers import Source
from infinstruct.core.errors import IndexStoreError
from infinstruct.core.settings import Settings

if TYPE_CHECKING:
    from infinstruct.embeddings.embedder import Embedders
    from infinstruct.recommend.service import Recommenders
    from infinstruct.retrieval.index_store import IndexCache

log = logging.getLogger(__name__)

#: ``(query, k, mode) -> sources`` (mode ``hybrid`` for passages, ``dense`` for cosine scores).
Searcher = Callable[[str, int, str], list[Source]]
#: ``(text, k) -> sources`` of recommended items.
Recommender = Callable[[str, int], list[Source]]

_RECOMMEND = re.compile(
    r"^\s*(?:please\s+|can you\s+|could you\s+)?(?:recommend|suggest)\b(?:\s+me)?\s*(?:some\w*|an?|any)?\s*"
    r"(?:\w+\s+)?(?:(?:similar\s+to|like|such\s+as)\s+)?(?P<rest>.*)$"
    r"|(?:something|anything|movies?|items?|products?|books?)\s+(?:similar\s+to|like)\s+(?P<rest2>.+)$"
    r"|推荐(?:一些|几个|一下|点)?(?:类似|像)?(?P<rest3>.*)$",
    re.IGNORECASE,
)


def recommendation_request(question: str) -> str | None:
    """The "something like …" text of a recommendation request, or None when it is not one."""
    match = _RECOMMEND.search(question.strip())
    if match is None:
        return None
    rest = match.group("rest") or match.group("rest2") or match.group("rest3") or ""
    rest = re.sub(r"^(?:something|anything)\s+(?:similar\s+to|like)\s+", "", rest.strip(), flags=re.I)
    return rest.strip(" ?.!？。") or question.strip()


_PERSON = re.compile(
    # a request verb, then (within a few words) who: "give me a human", "can I talk to someone"
    r"\b(?:want|need|get|give\s+me|speak|talk|chat|connect\s+me|transfer\s+me|put\s+me\s+through)\b"
    r"[^.?!。？！]{0,25}?\b(?:human|person|agent|representative|operator|someone|somebody|staff)s?\b"
    r"(?!\s+(?:resources|rights|error|being))"
    r"|\b(?:real|live)\s+(?:human|person|agent)\b|\bhuman\s+(?:agent|support)\b"
    r"|转人工|人工客服|找人工|真人|客服人员",
    re.IGNORECASE,
)


def person_request(question: str) -> bool:
    """Whether the customer asks for a person: whatever else the question says, a customer who
    asks for one is handed off (a reply from the model there reads as a refusal)."""
    return _PERSON.search(question) is not None


def index_searcher(
    settings: Settings, *, embedders: Embedders | None = None, indexes: IndexCache | None = None
) -> Searcher:
    """Searches the platform's hybrid retrieval index (a missing index reads as no hits),
    with the given model and index caches (the searcher's own when not given)."""
    from infinstruct.embeddings.embedder import Embedders
    from infinstruct.retrieval.index_store import IndexCache
    from infinstruct.retrieval.search import search

    models = embedders if embedders is not None else Embedders()
    loaded = indexes if indexes is not None else IndexCache()

    def _search(query: str, k: int, mode: str) -> list[Source]:
        try:
            hits = search(settings, query, k, mode=mode, embedders=models, indexes=loaded)  # type: ignore[arg-type]  # checked by search
        except IndexStoreError as exc:
            log.warning("retrieval unavailable: %s", exc)
            return []
        return [Source(h.doc_id, h.corpus, h.title, h.snippet, h.score) for h in hits]

    return _search


def platform_recommender(settings: Settings, *, recommenders: Recommenders | None = None) -> Recommender:
    """The platform recommender (``recommend.service.recommend``) on free text, building in
    and reusing ``recommenders`` (its own cache when not given).

    Raises ``NotFoundError`` while no item catalogue is loaded; the router then answers
    the question like any other.
    """
    from infinstruct.recommend.service import Recommenders, recommend

    built = recommenders if recommenders is not None else Recommenders()

    def _recommend(text: str, k: int) -> list[Source]:
        return [_item_source(item) for item in recommend(settings, text=text, k=k, recommenders=built)]

    return _recommend


def _item_source(item: Any) -> Source:
    """A recommender result (dataclass or dict) as a source."""
    get: Callable[[str], Any] = item.get if isinstance(item, dict) else lambda key: getattr(item, key, None)
    doc_id = get("doc_id") or get("item_id") or get("external_id") or ""
    title = get("title") or ""
    snippet = get("snippet") or get("why") or get("text") or get("description") or ""
    return Source(
        str(doc_id), str(get("corpus") or ""), str(title), str(snippet)[:300], float(get("score") or 0.0)
    )


def best_score(sources: Sequence[Source], *, exclude: frozenset[str] = frozenset()) -> float:
    """The highest score among ``sources`` not in ``exclude`` (0 when none)."""
    return max((s.score for s in sources if s.doc_id not in exclude), default=0.0)
