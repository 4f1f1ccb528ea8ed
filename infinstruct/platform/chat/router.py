"""The answer router: curated → recommend → model → retrieval → abstain.

Every question is scored once (similarity to the curated questions, to the active model's
training questions, and the best dense match in the retrieval index); the first route
whose score reaches its calibrated threshold answers. "Recommend me something like …"
is recognised by its wording and goes to the recommender when one exists. Nothing close
enough means an honest "I don't know" and a hand-off ticket for a person.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from infinstruct.platform.chat import conversations, curation, prompts
from infinstruct.platform.chat.answers import Answer, Route, Source
from infinstruct.platform.chat.backends import ModelProvider
from infinstruct.platform.chat.evidence import Recommender, Searcher, best_score, recommendation_request
from infinstruct.platform.chat.questions import QuestionIndex, load_curated_index, load_version_index
from infinstruct.platform.chat.thresholds import Thresholds, load_thresholds, thresholds_path
from infinstruct.platform.errors import InputError, LimitError, NotFoundError
from infinstruct.platform.protocols import Embedder
from infinstruct.platform.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class Features:
    """What the routing decision looks at for one question."""

    curated: float = 0.0
    curated_hit: dict[str, Any] | None = None
    model: float = 0.0
    examples: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    retrieval: float = 0.0

    def scores(self) -> dict[str, float]:
        return {
            "curated": round(self.curated, 4),
            "model": round(self.model, 4),
            "retrieval": round(self.retrieval, 4),
        }


def decide(features: Features, thresholds: Thresholds, *, recommend: bool = False) -> Route:
    """The route for ``features`` under ``thresholds`` (pure: calibration fits this)."""
    if features.curated_hit is not None and features.curated >= thresholds.curated:
        return "curated"
    if recommend:
        return "recommend"
    if features.examples and features.model >= thresholds.model:
        return "model"
    if features.retrieval >= thresholds.retrieval:
        return "retrieval"
    return "abstain"


@dataclass(frozen=True)
class ChatEvent:
    """A streamed piece: ``start`` (route and sources known), ``token``, then ``end``."""

    kind: str
    text: str = ""
    answer: Answer | None = None


class ChatRouter:
    """Answers questions; one instance is shared by every request of a server."""

    def __init__(
        self,
        settings: Settings,
        *,
        models: ModelProvider,
        embedder: Embedder,
        searcher: Searcher | None,
        recommender: Recommender | None = None,
        thresholds: Thresholds | None = None,
    ) -> None:
        self.settings = settings
        self.models = models
        self.embedder = embedder
        self.searcher = searcher
        self.recommender = recommender
        self._fixed_thresholds = thresholds
        self._thresholds: tuple[float, Thresholds] | None = None
        self._lock = threading.Lock()
        self._version_index: QuestionIndex | None = None
        self._curated: tuple[tuple[int, int], QuestionIndex] | None = None

    # -- the pieces a decision needs ---------------------------------------------------
    @property
    def thresholds(self) -> Thresholds:
        """Fixed ones, or the calibrated file (re-read when it changes), or the fallbacks."""
        if self._fixed_thresholds is not None:
            return self._fixed_thresholds
        path = thresholds_path(self.settings)
        mtime = path.stat().st_mtime if path.exists() else -1.0
        if self._thresholds is None or self._thresholds[0] != mtime:
            self._thresholds = (mtime, load_thresholds(self.settings))
        return self._thresholds[1]

    def version_index(self) -> QuestionIndex | None:
        """The active model version's training-question index (None without a version)."""
        version = self.models.version
        if version is None:
            return None
        with self._lock:
            if self._version_index is None or self._version_index.key != version.name:
                self._version_index = load_version_index(self.settings, version, self.embedder)
            return self._version_index

    def curated_index(self) -> QuestionIndex:
        signature = curation.curated_signature(self.settings)
        with self._lock:
            if self._curated is None or self._curated[0] != signature:
                self._curated = (signature, load_curated_index(self.settings, self.embedder))
            return self._curated[1]

    def features(
        self, questions: Sequence[str], *, exclude: Sequence[frozenset[str]] | None = None
    ) -> list[Features]:
        """Scores of many questions at once (``exclude``: doc ids a question may not match,
        e.g. the document a held-out calibration question came from)."""
        vectors = self.embedder.embed(list(questions))
        curated = self.curated_index().nearest(vectors, 1)
        index = self.version_index()
        examples = index.nearest(vectors, max(self.settings.chat.grounding_examples, 1)) if index else None
        out: list[Features] = []
        for i, question in enumerate(questions):
            feat = Features()
            if curated[i]:
                feat.curated, feat.curated_hit = curated[i][0]
            if examples and examples[i]:
                feat.model, feat.examples = examples[i][0][0], examples[i]
            if self.searcher is not None:
                skip = exclude[i] if exclude else frozenset()
                feat.retrieval = best_score(self.searcher(question, 1 + len(skip), "dense"), exclude=skip)
            out.append(feat)
        return out

    # -- answering ----------------------------------------------------------------------
    def ask(
        self,
        message: str,
        *,
        conversation_id: str | None = None,
        client: str = "cli",
        persist: bool = True,
        history: list[dict[str, str]] | None = None,
    ) -> Answer:
        """The whole answer at once (the CLI and ``/api/chat``)."""
        final: Answer | None = None
        for event in self.stream(
            message, conversation_id=conversation_id, client=client, persist=persist, history=history
        ):
            if event.kind == "end":
                final = event.answer
        assert final is not None
        return final

    def stream(
        self,
        message: str,
        *,
        conversation_id: str | None = None,
        client: str = "cli",
        persist: bool = True,
        history: list[dict[str, str]] | None = None,
        max_new_tokens: int | None = None,
    ) -> Iterator[ChatEvent]:
        """Route ``message`` and stream the reply; the last event carries the ``Answer``.

        ``persist`` stores the conversation (its stored turns are the history);
        ``history`` instead passes earlier messages in (the stateless OpenAI API).
        """
        started = time.monotonic()
        question = check_message(message, self.settings.chat.max_input_chars)
        window = self.settings.chat.history_turns * 2
        past: list[dict[str, str]] = (
            [
                {"role": m["role"], "content": m["content"]}
                for m in (history or [])
                if m.get("role") in ("user", "assistant")
            ][-window:]
            if window
            else []
        )
        if persist:
            had = conversation_id
            conversation_id = conversations.open_conversation(self.settings, conversation_id, client=client)
            if had:
                past = conversations.history(
                    self.settings, conversation_id, turns=self.settings.chat.history_turns
                )
        wanted = recommendation_request(question) if self.recommender is not None else None
        feat = self.features([question])[0]
        route = decide(feat, self.thresholds, recommend=wanted is not None)
        items: list[Source] = []
        if route == "recommend":
            assert self.recommender is not None and wanted is not None
            try:
                items = self.recommender(wanted, 5)
            except (NotFoundError, InputError) as exc:  # no catalogue loaded: answer it like any question
                log.info("recommend route unavailable (%s); routing as a question", exc)
                route = decide(feat, self.thresholds)
        model_version = self.models.name
        sources: list[Source] = []
        pieces: Iterator[str] = iter(())
        system = ""
        text = ""
        if route == "curated":
            hit = feat.curated_hit or {}
            text = str(hit.get("answer", ""))
            sources = [
                Source(f"curated:{hit.get('id')}", "curated", "", str(hit.get("question", "")), feat.curated)
            ]
        elif route == "recommend":
            sources = items
            text = _recommendation_text(question, sources)
        elif route == "model":
            shown = feat.examples[: self.settings.chat.grounding_examples]
            sources = [
                Source(
                    f"example:{p.get('example_id')}",
                    str(p.get("corpus", "")),
                    str(p.get("task", "")),
                    str(p.get("question", ""))[:300],
                    s,
                )
                for s, p in shown
            ]
            messages = prompts.model_messages(
                question, examples=[(str(p["question"]), str(p["answer"])) for _, p in shown], history=past
            )
            system = messages[0]["content"]
            pieces, model_version = self._generate(messages, max_new_tokens)
        elif route == "retrieval":
            assert self.searcher is not None
            sources = self.searcher(question, self.settings.chat.retrieval_k, "hybrid")
            from infinstruct.platform.chat.chain import rag_messages_chain

            messages = rag_messages_chain(self.settings.chat.spotlighting).invoke(
                {"question": question, "passages": sources, "history": past}
            )
            system = messages[0]["content"]
            pieces, model_version = self._generate(messages, max_new_tokens)
        else:
            text = prompts.abstain_text(question)
        yield ChatEvent(
            "start",
            answer=Answer(
                answer="",
                route=route,
                sources=sources,
                model_version=model_version,
                conversation_id=conversation_id,
                scores=feat.scores(),
            ),
        )
        if text:
            yield ChatEvent("token", text=text)
        else:
            for piece in pieces:
                text += piece
                if prompts.leaks_prompt(text, system):
                    break  # stop the generation: the guard below replaces the reply
                yield ChatEvent("token", text=piece)
            text = prompts.guard_output(text.strip(), system=system, question=question)
        answer = Answer(
            answer=text,
            route=route,
            sources=sources,
            model_version=model_version,
            latency_ms=(time.monotonic() - started) * 1000,
            conversation_id=conversation_id,
            scores=feat.scores(),
        )
        if route == "abstain":
            curation.open_handoff(
                self.settings,
                question,
                conversation_id=conversation_id if persist else None,
                evidence={"scores": feat.scores(), "thresholds": self.thresholds.as_dict()},
            )
        if persist and conversation_id is not None:
            answer.turn_id = conversations.record_exchange(self.settings, conversation_id, question, answer)
        yield ChatEvent("end", text=text, answer=answer)

    def _generate(
        self, messages: list[dict[str, str]], max_new_tokens: int | None
    ) -> tuple[Iterator[str], str]:
        backend, name = self.models.backend()
        limit = min(
            max_new_tokens or self.settings.dialogue.max_new_tokens, self.settings.dialogue.max_new_tokens
        )
        return backend.stream(messages, max_new_tokens=limit), name


def check_message(message: str, max_chars: int) -> str:
    """The stripped message, or an error naming the limit."""
    question = (message or "").strip()
    if not question:
        raise InputError("the message is empty; type a question")
    if len(question) > max_chars:
        raise LimitError(
            f"the message has {len(question)} characters, more than chat.max_input_chars="
            f"{max_chars}; shorten it"
        )
    return question


def _recommendation_text(question: str, items: Sequence[Source]) -> str:
    zh = prompts.is_chinese(question)
    if not items:
        return "抱歉，暂时没有可推荐的内容。" if zh else "Sorry, I have nothing to recommend for that yet."
    lead = "您可能会喜欢：" if zh else "You might like:"
    lines = [f"{n}. {item.title or item.snippet[:80]}" for n, item in enumerate(items, 1)]
    return "\n".join([lead, *lines])
