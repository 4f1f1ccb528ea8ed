"""The recommendation service: ``recommend(settings, user=, likes=, text=, k=)``.

A ``Recommenders`` cache keeps one ``Recommender`` per (database, corpus) and rebuilds it
when the corpus' versions change (a load or a rollback); ``services.py`` builds one per
process and hands it to the API and the chat, a CLI command builds its own. Building it reads the catalogue, embeds the
item profiles (cached on disk) and takes the signal weights fitted on the validation split,
fitting them on the first request after a load (then cached beside the profiles).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.embeddings.embedder import Embedders, load_embedder
from infinstruct.recommend import store
from infinstruct.recommend.dataset import ItemData
from infinstruct.recommend.evaluate import ValidationReport, eligible_users, fit_weights
from infinstruct.recommend.explain import Explainer, item_keywords, normalise, query_terms
from infinstruct.recommend.profiles import embed_profiles, profile_texts
from infinstruct.recommend.ranking import Weights, standardise, top_k
from infinstruct.recommend.resolve import TitleIndex
from infinstruct.recommend.signals import (
    CoOccurrence,
    History,
    history_weights,
    popularity,
    text_scores,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recommendation:
    item_id: str
    title: str
    score: float
    why: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Recommender:
    """Ranks one catalogue's items for a user, liked items and/or a free-text request."""

    def __init__(
        self,
        data: ItemData,
        vectors: np.ndarray,
        weights: Weights,
        *,
        embed_query: Callable[[str], np.ndarray],
        query_popularity_weight: float = 0.15,
        query_keyword_weight: float = 0.5,
    ) -> None:
        self.data, self.vectors, self.weights = data, vectors, weights
        self.embed_query = embed_query
        self.query_popularity_weight = query_popularity_weight
        self.query_keyword_weight = query_keyword_weight
        self.cooc = CoOccurrence(data.ev_user, data.ev_item, n_users=len(data.users), n_items=data.n_items)
        self.popularity = popularity(data.ev_item, data.n_items)
        self.popularity_rank = np.empty(data.n_items, dtype=np.int64)
        self.popularity_rank[np.argsort(-self.popularity, kind="stable")] = np.arange(data.n_items)
        self.titles = TitleIndex(data)
        keywords = item_keywords(data)
        self.explainer = Explainer(data, vectors, self.cooc, keywords)
        # Inverted index of normalised genres/tags: the lexical half of a free-text match.
        postings: dict[str, set[int]] = {}
        for i, words in enumerate(keywords):
            for word in words:
                postings.setdefault(normalise(word), set()).add(i)
        self.keyword_items = {k: np.fromiter(v, dtype=np.int64) for k, v in postings.items()}

    def recommend(
        self,
        *,
        user: str | None = None,
        likes: str | Sequence[str] | None = None,
        text: str | None = None,
        k: int = 10,
    ) -> list[Recommendation]:
        if not (user or likes or (text and text.strip())):
            raise InputError("say what to recommend from: a user id, liked items, or a text description")
        events = self._user_events(user) if user else np.zeros(0, dtype=np.int64)
        liked = self.titles.resolve(likes) if likes else []
        seen = np.zeros(self.data.n_items, dtype=bool)
        seen[self.data.ev_item[events]] = True
        seen[liked] = True
        candidates = ~seen[None, :]
        mix = self.weights.mix()
        total = np.zeros((1, self.data.n_items), dtype=np.float32)
        text_hist = collab_hist = None
        if events.size or liked:
            w = self.weights
            text_hist = self._history(events, liked, w.text_half_life, w.text_rating_power)
            collab_hist = self._history(events, liked, w.collab_half_life, w.collab_rating_power)
            total += mix["text"] * standardise(text_scores([text_hist], self.vectors), candidates)
            total += mix["collaborative"] * standardise(self.cooc.scores([collab_hist]), candidates)
            total += mix["popularity"] * self._popularity_z(candidates)
        terms: set[str] = set()
        if text and text.strip():
            query = self.embed_query(text.strip())
            total += standardise((self.vectors @ query)[None, :], candidates)
            terms = query_terms(text)
            if self.query_keyword_weight:
                total += self.query_keyword_weight * standardise(self._keyword_match(terms), candidates)
            if text_hist is None:
                total += self.query_popularity_weight * self._popularity_z(candidates)
        scores = np.where(candidates, total, -np.inf)[0]
        taste = self.explainer.taste(text_hist) if text_hist is not None else set()
        out = []
        for item in top_k(scores, k):
            why = self.explainer.why(
                int(item),
                history=collab_hist,
                mix=mix,
                terms=terms,
                taste=taste,
                popularity_rank=int(self.popularity_rank[item]),
            )
            entry = self.data.items[int(item)]
            out.append(Recommendation(entry.item_id, entry.title, round(float(scores[item]), 4), why))
        return out

    def _user_events(self, user: str) -> np.ndarray:
        index = self.data.user_index.get(str(user).strip())
        if index is None:
            sample = ", ".join(self.data.users[:3]) or "none"
            raise NotFoundError(
                f"user {user!r} has no interactions in corpus {self.data.corpus!r} (user ids look like "
                f"{sample}); for a new user recommend from --likes or --text instead"
            )
        return np.asarray(self.data.user_events[index], dtype=np.int64)

    def _history(
        self, events: np.ndarray, liked: list[int], half_life: float | None, power: float
    ) -> History:
        d = self.data
        values = np.concatenate([d.ev_value[events].astype(np.float64), np.full(len(liked), np.nan)])
        # Items named now are the most recent thing the user told us.
        latest = float(d.ev_ts[events].max()) + 1.0 if events.size else 1.0
        ts = np.concatenate([d.ev_ts[events], np.full(len(liked), latest)])
        items = np.concatenate([d.ev_item[events].astype(np.int64), np.asarray(liked, dtype=np.int64)])
        return History(items, history_weights(values, ts, half_life=half_life, rating_power=power))

    def _keyword_match(self, terms: set[str]) -> np.ndarray:
        """Share of the request's genre/tag words each item carries (1 x items)."""
        known = [t for t in terms if t in self.keyword_items]
        out = np.zeros((1, self.data.n_items), dtype=np.float32)
        for term in known:
            out[0, self.keyword_items[term]] += 1.0 / len(known)
        return out

    def _popularity_z(self, candidates: np.ndarray) -> np.ndarray:
        return standardise(self.popularity[None, :], candidates)


def recommend(
    settings: Settings,
    *,
    user: str | None = None,
    likes: str | Sequence[str] | None = None,
    text: str | None = None,
    k: int | None = None,
    corpus: str | None = None,
    recommenders: Recommenders | None = None,
) -> list[Recommendation]:
    """Top-``k`` items for a known user, a few liked items (ids or exact titles), or a text;
    ``recommenders`` is the cache to build in or reuse (a new one when not given)."""
    k = settings.recommend.default_k if k is None else k
    if not 1 <= k <= settings.recommend.max_k:
        raise InputError(f"k must be between 1 and {settings.recommend.max_k} (got {k})")
    recommender = load_recommender(settings, corpus, user=user, recommenders=recommenders)
    return recommender.recommend(user=user, likes=likes, text=text, k=k)


class Recommenders:
    """Built recommenders by (database, corpus), each kept until the corpus' versions change,
    and the ``Embedders`` they encode with: the cache its owner shares between requests."""

    def __init__(self, embedders: Embedders | None = None) -> None:
        self.embedders = embedders if embedders is not None else Embedders()
        self._lock = threading.Lock()
        self._built: dict[tuple[str, str], tuple[str, Recommender]] = {}

    def get(self, settings: Settings, corpus: str | None = None, *, user: str | None = None) -> Recommender:
        name = store.choose_corpus(settings, corpus, user=user)
        stamp = store.fingerprint(settings, name)
        key = (settings.database_url, name)
        with self._lock:
            cached = self._built.get(key)
            if cached is not None and cached[0] == stamp:
                return cached[1]
            data = store.load_item_data(settings, name)
            recommender = build_recommender(settings, data, stamp, embedders=self.embedders)
            self._built[key] = (stamp, recommender)
            return recommender


def load_recommender(
    settings: Settings,
    corpus: str | None = None,
    *,
    user: str | None = None,
    recommenders: Recommenders | None = None,
) -> Recommender:
    """The recommender for the chosen corpus: ``recommenders``' while its versions are
    unchanged, else a new one (kept there when given)."""
    return (recommenders if recommenders is not None else Recommenders()).get(settings, corpus, user=user)


def build_recommender(
    settings: Settings, data: ItemData, stamp: str, *, embedders: Embedders | None = None
) -> Recommender:
    embedder = load_embedder(settings, embedders)

    def embed(texts: list[str]) -> np.ndarray:
        return embed_profiles(settings, texts, embedder=embedder)

    weights = load_or_fit_weights(settings, data, stamp, embed, model=embedder.model_name)
    return Recommender(
        data,
        embed(profile_texts(data)),
        weights,
        embed_query=lambda text: embedder.embed([text])[0],
        query_popularity_weight=settings.recommend.query_popularity_weight,
        query_keyword_weight=settings.recommend.query_keyword_weight,
    )


def weights_path(settings: Settings, corpus: str, stamp: str, model: str) -> Path:
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{corpus}-{model}")
    return settings.cache_dir / "recommend" / f"weights-{slug}-{stamp}.json"


def save_weights(path: Path, weights: Weights, report: ValidationReport | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"weights": weights.as_dict(), "validation": report}, indent=2), encoding="utf-8"
    )


def load_or_fit_weights(
    settings: Settings, data: ItemData, stamp: str, embed: Callable[[list[str]], np.ndarray], *, model: str
) -> Weights:
    path = weights_path(settings, data.corpus, stamp, model)
    if path.exists():
        try:
            return Weights.from_dict(json.loads(path.read_text(encoding="utf-8"))["weights"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("refitting: unreadable weights file %s: %s", path, exc)
    users = eligible_users(data)
    if not users:
        log.info("corpus %s has no user history to fit on; using default weights", data.corpus)
        return Weights()
    step = max(1, len(users) // settings.recommend.fit_max_users)
    log.info("fitting recommendation weights for %s on %d users", data.corpus, len(users[::step]))
    weights, report = fit_weights(data, embed, users=users[::step])
    save_weights(path, weights, report)
    return weights
