"""The answer router: curated → recommend → intent → model → retrieval → abstain.

Every question is scored once (similarity to the curated questions, to the active model's
training questions, the best dense match in the retrieval index, and the intent signal: a
similarity-weighted vote of the nearest intent-labelled training questions); the first route
whose score reaches its calibrated threshold answers. "Recommend me something like …" is
recognised by its wording and goes to the recommender when one exists.

Classification is a signal, never reply text: a question whose intent fires gets the
operator's curated answer for that intent, or is handed off tagged with it. A generated
reply passes ``reply_check`` sentence by sentence before it is streamed; a reply rejected
at its first sentence falls through to the next route and finally to a hand-off, and every
rejection is counted per reason in ``Answer.rejections``. Nothing close enough means an
honest "I don't know" and a hand-off ticket for a person.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from infinstruct.chat import conversations, curation, prompts
from infinstruct.chat.answers import Answer, Route, Source, humanize_intent
from infinstruct.chat.backends import ModelProvider
from infinstruct.chat.evidence import (
    Recommender,
    Searcher,
    best_score,
    person_request,
    recommendation_request,
)
from infinstruct.chat.intent_evidence import ANSWER_MARGIN, MIN_INTENT_COVERAGE, coverage, intent_vocabularies
from infinstruct.chat.ood import OffDomainProbe, fit_probe, fold_of, reference_questions
from infinstruct.chat.questions import (
    IntentGuess,
    QuestionIndex,
    load_curated_index,
    load_version_index,
    vote_intent,
)
from infinstruct.chat.reply_check import ReplyContext, check_reply
from infinstruct.chat.thresholds import Thresholds, load_thresholds, thresholds_path
from infinstruct.core.errors import InputError, LimitError, NotFoundError
from infinstruct.core.protocols import Embedder
from infinstruct.core.settings import Settings
from infinstruct.core.text import SENTENCE_END

log = logging.getLogger(__name__)


@dataclass
class Features:
    """What the routing decision looks at for one question."""

    curated: float = 0.0
    curated_hit: dict[str, Any] | None = None
    model: float = 0.0
    examples: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    retrieval: float = 0.0
    intent: IntentGuess | None = None
    #: The curated answer of ``intent`` (``{id, answer, intent}``) when an operator wrote one.
    intent_answer: dict[str, Any] | None = None
    min_intent_confidence: float = 0.5
    #: A curated answer chosen by intent alone, or the intent named to the customer in a
    #: hand-off, needs this vote share (a hand-off tag for the operators needs only
    #: ``min_intent_confidence``: a wrong tag costs a colleague a glance, a wrong answer or a
    #: wrong topic misleads the customer).
    min_answer_confidence: float = 0.6
    #: Similarity to the nearest committed off-domain reference question (``ood.reference_questions``).
    off_domain: float = 0.0
    #: Share of the question's content words found in the voted intent's training questions.
    intent_coverage: float = 1.0
    #: P(off-domain) from the probe over the active version's training questions and the
    #: reference questions (None without a version or references).
    off_domain_probability: float | None = None

    def scores(self) -> dict[str, float]:
        return {
            "curated": round(self.curated, 4),
            "model": round(self.model, 4),
            "retrieval": round(self.retrieval, 4),
            "intent": round(self.intent.similarity, 4) if self.intent else 0.0,
            "off_domain": round(self.off_domain, 4),
            **(
                {"off_domain_p": round(self.off_domain_probability, 4)}
                if self.off_domain_probability is not None
                else {}
            ),
        }

    def in_domain(self) -> float:
        """The best in-domain evidence: similarity to a trained question or an intent-labelled one."""
        return max(self.model if self.examples else 0.0, self.intent.similarity if self.intent else 0.0)

    def off_domain_gap(self) -> float:
        """How much closer the question is to a known off-domain question than to the domain."""
        return self.off_domain - self.in_domain()

    def off_domain_declined(self, thresholds: Thresholds) -> bool:
        """The off-domain gate: the probe when it is calibrated (and known for this question),
        else the nearest-reference margin (thresholds files from before the probe)."""
        if thresholds.off_domain_probe <= 1.0 and self.off_domain_probability is not None:
            return self.off_domain_probability >= thresholds.off_domain_probe
        return self.off_domain_gap() >= thresholds.off_domain_margin

    def intent_is_certain(self, intent: IntentGuess) -> bool:
        """Evidence enough to act on the intent in front of the customer: send its curated
        answer, or name it in a hand-off. A fired intent alone only tags the hand-off for the
        operators: "my package hasn't arrived" fires card_arrival, and telling the customer
        so is worse than a plain hand-off."""
        return (
            intent.confidence >= self.min_answer_confidence
            and intent.similarity >= self.model + ANSWER_MARGIN
            and self.intent_coverage >= MIN_INTENT_COVERAGE
        )

    def fired_intent(self, thresholds: Thresholds) -> IntentGuess | None:
        """The intent when the signal fires: close enough and a clear vote."""
        guess = self.intent
        if guess is None or guess.similarity < thresholds.intent:
            return None
        return guess if guess.confidence >= self.min_intent_confidence else None


def decide(features: Features, thresholds: Thresholds, *, recommend: bool = False) -> Route:
    """The route for ``features`` under ``thresholds`` (pure: calibration fits this)."""
    if features.curated_hit is not None and features.curated >= thresholds.curated:
        return "curated"
    if recommend:
        return "recommend"
    # MiniLM scores every question against the domain's closest text, however unrelated (all
    # Chinese text sits close together for it): the probe (or, for old thresholds files, being
    # clearly nearer to a known off-domain question than to the domain) declines it.
    if features.off_domain_declined(thresholds):
        return "abstain"
    intent = features.fired_intent(thresholds)
    # closer to an intent-labelled question than to any reply the model learnt: the intent decides
    if intent is not None and intent.similarity >= features.model:
        answer = features.intent_answer is not None and features.intent_is_certain(intent)
        return "curated" if answer else "abstain"
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


#: Longest text held back waiting for a sentence end before it is checked and sent anyway
#: (shorter for the first piece, so the first words reach the customer quickly).
_HOLD_CHARS = 200
_FIRST_HOLD_CHARS = 60
_WORD_PIECE = re.compile(r"\s*\S+\s*|\s+")
HANDOFF_INTENT_EN = (
    "Thank you. I have passed your question about {topic} to a colleague, who will get back to you."
)
HANDOFF_INTENT_ZH = "谢谢。我已把您关于“{topic}”的问题转给同事，他们会尽快回复您。"


@dataclass
class _Attempt:
    """One generating route's try: the accepted (sent) text and why it stopped, if it did."""

    text: str = ""
    rejected: str | None = None


class ChatRouter:
    """Answers questions; one instance is shared by every request of a server."""

    #: False for the operator's Try tab: a tried question opens no hand-off.
    record_handoffs: bool = True

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
        self._intent_index: QuestionIndex | None = None
        self._off_domain_index: QuestionIndex | None = None
        self._probes: tuple[str, dict[int | None, OffDomainProbe | None]] | None = None
        self._intent_vocab: tuple[str, dict[str, frozenset[str]]] | None = None
        self._curated: tuple[tuple[int, int], QuestionIndex, dict[str, dict[str, Any]]] | None = None

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

    def intent_index(self) -> QuestionIndex | None:
        """The active version's intent-labelled training questions (the intent signal)."""
        version = self.models.version
        if version is None:
            return None
        with self._lock:
            if self._intent_index is None or self._intent_index.key != version.name:
                self._intent_index = load_version_index(self.settings, version, self.embedder, kind="intents")
            return self._intent_index

    def intent_vocabularies(self) -> dict[str, frozenset[str]]:
        """Intent label -> content words of its training questions (the curated-answer evidence)."""
        index = self.intent_index()
        if index is None:
            return {}
        with self._lock:
            if self._intent_vocab is None or self._intent_vocab[0] != index.key:
                self._intent_vocab = (index.key, intent_vocabularies(index.payloads))
            return self._intent_vocab[1]

    def intent_labels(self) -> frozenset[str]:
        """Every intent label the signal knows (a reply that is one is rejected)."""
        index = self.intent_index()
        return frozenset(str(p.get("answer", "")) for p in index.payloads) if index else frozenset()

    def _curated_state(self) -> tuple[QuestionIndex, dict[str, dict[str, Any]]]:
        signature = curation.curated_signature(self.settings)
        with self._lock:
            if self._curated is None or self._curated[0] != signature:
                by_intent = {
                    intent: {"id": row.id, "answer": row.answer, "intent": intent}
                    for intent, row in curation.intent_answers(self.settings).items()
                }
                self._curated = (signature, load_curated_index(self.settings, self.embedder), by_intent)
            return self._curated[1], self._curated[2]

    def curated_index(self) -> QuestionIndex:
        return self._curated_state()[0]

    def off_domain_index(self) -> QuestionIndex:
        """The committed off-domain reference questions (embedded once per router)."""
        with self._lock:
            if self._off_domain_index is None:
                refs = reference_questions()
                self._off_domain_index = QuestionIndex(
                    "off_domain", [{"question": q} for q in refs], self.embedder.embed(list(refs))
                )
            return self._off_domain_index

    def off_domain_probe(self, leave_out_fold: int | None = None) -> OffDomainProbe | None:
        """The probe over the active version's training questions (reply and intent indexes)
        against the reference questions; ``leave_out_fold`` drops that fold's references
        (cross-fitted scores for calibration). Fitted once per version and fold."""
        version, intents = self.version_index(), self.intent_index()
        if version is None:
            return None
        references = self.off_domain_index()
        key = f"{version.key}|{intents.key if intents else ''}"
        with self._lock:
            if self._probes is None or self._probes[0] != key:
                self._probes = (key, {})
            cache = self._probes[1]
            if leave_out_fold not in cache:
                keep = [
                    n
                    for n, p in enumerate(references.payloads)
                    if leave_out_fold is None or fold_of(str(p["question"])) != leave_out_fold
                ]
                inside = [version.vectors] + (
                    [intents.vectors] if intents is not None and len(intents) else []
                )
                cache[leave_out_fold] = fit_probe(np.concatenate(inside), references.vectors[keep])
            return cache[leave_out_fold]

    def _probabilities(
        self, questions: Sequence[str], vectors: np.ndarray, leave_out: bool
    ) -> list[float | None]:
        """P(off-domain) per question; a reference question (``leave_out``) gets the score of the
        probe fitted without its fold, so calibration never scores a question the probe learnt."""
        probe = self.off_domain_probe()
        if probe is None:
            return [None] * len(questions)
        out: list[float | None] = [float(p) for p in probe.probability(vectors)]
        if leave_out:
            references = set(reference_questions())
            for i, question in enumerate(questions):
                if question in references:
                    held_out = self.off_domain_probe(fold_of(question))
                    out[i] = float(held_out.probability(vectors[i])[0]) if held_out is not None else None
        return out

    def features(
        self,
        questions: Sequence[str],
        *,
        exclude: Sequence[frozenset[str]] | None = None,
        leave_out_references: bool = False,
    ) -> list[Features]:
        """Scores of many questions at once (``exclude``: doc ids a question may not match,
        e.g. the document a held-out calibration question came from; ``leave_out_references``:
        an off-domain reference question is not compared with itself, for calibration)."""
        cfg = self.settings.chat
        vectors = self.embedder.embed(list(questions))
        references = self.off_domain_index().nearest(vectors, 2)
        curated_index, by_intent = self._curated_state()
        curated = curated_index.nearest(vectors, 1)
        index = self.version_index()
        examples = index.nearest(vectors, max(cfg.grounding_examples, 1)) if index else None
        intents = self.intent_index()
        voters = intents.nearest(vectors, max(cfg.intent_neighbours, 1)) if intents else None
        probabilities = self._probabilities(questions, vectors, leave_out_references)
        out: list[Features] = []
        for i, question in enumerate(questions):
            feat = Features(
                min_intent_confidence=cfg.intent_min_confidence,
                min_answer_confidence=cfg.intent_answer_min_confidence,
                off_domain_probability=probabilities[i],
                off_domain=max(
                    (s for s, p in references[i] if not (leave_out_references and p["question"] == question)),
                    default=0.0,
                ),
            )
            if curated[i]:
                feat.curated, feat.curated_hit = curated[i][0]
            if examples and examples[i]:
                feat.model, feat.examples = examples[i][0][0], examples[i]
            if voters and voters[i]:
                feat.intent = vote_intent(voters[i])
                feat.intent_answer = by_intent.get(feat.intent.intent) if feat.intent else None
                if feat.intent is not None:
                    vocabulary = self.intent_vocabularies().get(feat.intent.intent, frozenset())
                    feat.intent_coverage = coverage(question, vocabulary)
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
        handoff: bool = True,
    ) -> Answer:
        """The whole answer at once (the CLI and ``/api/chat``); ``handoff=False`` opens no
        hand-off for an abstained question (evaluation)."""
        final: Answer | None = None
        for event in self.stream(
            message,
            conversation_id=conversation_id,
            client=client,
            persist=persist,
            history=history,
            handoff=handoff,
        ):
            if event.kind == "end":
                final = event.answer
        assert final is not None
        return final

    def _past(
        self, history: list[dict[str, str]] | None, conversation_id: str | None, persist: bool, client: str
    ) -> tuple[list[dict[str, str]], str | None]:
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
        return past, conversation_id

    def stream(
        self,
        message: str,
        *,
        conversation_id: str | None = None,
        client: str = "cli",
        persist: bool = True,
        history: list[dict[str, str]] | None = None,
        max_new_tokens: int | None = None,
        handoff: bool = True,
    ) -> Iterator[ChatEvent]:
        """Route ``message`` and stream the reply; the last event carries the ``Answer``.

        ``persist`` stores the conversation (its stored turns are the history);
        ``history`` instead passes earlier messages in (the stateless OpenAI API).
        """
        started = time.monotonic()
        question = check_message(message, self.settings.chat.max_input_chars)
        past, conversation_id = self._past(history, conversation_id, persist, client)
        wanted = recommendation_request(question) if self.recommender is not None else None
        feat = self.features([question])[0]
        thresholds = self.thresholds
        route = decide(feat, thresholds, recommend=wanted is not None)
        if person_request(question):
            route = "abstain"
        intent = feat.fired_intent(thresholds)
        items: list[Source] = []
        if route == "recommend":
            assert self.recommender is not None and wanted is not None
            try:
                items = self.recommender(wanted, 5)
            except (NotFoundError, InputError) as exc:  # no catalogue loaded: answer it like any question
                log.info("recommend route unavailable (%s); routing as a question", exc)
                route = decide(feat, thresholds)
        answer = Answer(
            answer="",
            route=route,
            model_version=self.models.name,
            conversation_id=conversation_id,
            scores=feat.scores(),
            intent=feat.intent.intent if feat.intent and intent else None,
            intent_confidence=feat.intent.confidence if feat.intent and intent else None,
        )
        if route in ("model", "retrieval"):
            yield from self._generated(answer, question, feat, past, max_new_tokens)
        else:
            answer.answer, answer.sources = self._fixed_reply(route, question, feat, intent, items)
            yield ChatEvent("start", answer=answer)
            yield ChatEvent("token", text=answer.answer)
        answer.latency_ms = (time.monotonic() - started) * 1000
        if answer.route == "abstain" and self.record_handoffs:
            curation.open_handoff(
                self.settings,
                question,
                conversation_id=conversation_id if persist else None,
                evidence={
                    "scores": feat.scores(),
                    "thresholds": thresholds.as_dict(),
                    "rejections": dict(answer.rejections),
                },
                intent=answer.intent,
                intent_confidence=answer.intent_confidence,
            )
        if persist and conversation_id is not None:
            answer.turn_id = conversations.record_exchange(self.settings, conversation_id, question, answer)
        yield ChatEvent("end", text=answer.answer, answer=answer)

    def _fixed_reply(
        self, route: Route, question: str, feat: Features, intent: IntentGuess | None, items: list[Source]
    ) -> tuple[str, list[Source]]:
        """The text and sources of a route that generates nothing."""
        if (
            route == "curated"
            and intent is not None
            and feat.intent_answer is not None
            and (feat.curated_hit is None or feat.curated < self.thresholds.curated)
        ):
            hit = feat.intent_answer
            source = Source(
                f"curated:{hit['id']}", "curated", humanize_intent(intent.intent), "", intent.confidence
            )
            return str(hit["answer"]), [source]
        if route == "curated":
            hit = feat.curated_hit or {}
            source = Source(
                f"curated:{hit.get('id')}", "curated", "", str(hit.get("question", "")), feat.curated
            )
            return str(hit.get("answer", "")), [source]
        if route == "recommend":
            return _recommendation_text(question, items), items
        return handoff_text(
            question, intent.intent if intent and feat.intent_is_certain(intent) else None
        ), []

    def _generated(
        self,
        answer: Answer,
        question: str,
        feat: Features,
        past: list[dict[str, str]],
        max_new_tokens: int | None,
    ) -> Iterator[ChatEvent]:
        """Try the chosen generating route, then the next, then hand off; stream what passes."""
        cfg = self.settings.chat
        plan: list[Route] = ["model", "retrieval"] if answer.route == "model" else ["retrieval"]
        if (
            "retrieval" in plan
            and answer.route == "model"
            and (self.searcher is None or feat.retrieval < self.thresholds.retrieval)
        ):
            plan.remove("retrieval")
        replies = [str(p.get("answer", "")) for _, p in feat.examples[: cfg.grounding_examples]]
        started = False
        for route in plan:
            sources, passages = self._evidence(route, question, feat)
            messages = prompts.grounded_messages(
                question,
                replies=replies,
                passages=passages,
                history=past,
                spotlighting=cfg.spotlighting,
                reply_chars=cfg.grounding_reply_chars,
            )
            cap = cfg.model_max_new_tokens if route == "model" else cfg.retrieval_max_new_tokens
            pieces, answer.model_version = self._generate(messages, min(cap, max_new_tokens or cap))
            ctx = ReplyContext(
                question=question,
                system=messages[0]["content"],
                recitable=[p.snippet for p in passages],  # copying a past reply is grounded, not recital
                allowed=[*replies, *(p.snippet for p in passages), *(p.title for p in passages)],
                labels=self.intent_labels(),
            )
            attempt = _Attempt()
            answer.route, answer.sources = route, sources
            for piece in self._checked(pieces, ctx, attempt):
                if not started:
                    started = True
                    yield ChatEvent("start", answer=answer)
                yield ChatEvent("token", text=piece)
            if attempt.rejected:
                answer.rejections[attempt.rejected] = answer.rejections.get(attempt.rejected, 0) + 1
            if attempt.text.strip():
                answer.answer = attempt.text.strip()
                return
        intent = feat.fired_intent(self.thresholds)
        answer.route, answer.sources = "abstain", []
        answer.answer = handoff_text(
            question, intent.intent if intent and feat.intent_is_certain(intent) else None
        )
        if not started:
            yield ChatEvent("start", answer=answer)
        yield ChatEvent("token", text=answer.answer)

    def _evidence(self, route: Route, question: str, feat: Features) -> tuple[list[Source], list[Source]]:
        """(sources reported, passages shown) of a generating route."""
        cfg = self.settings.chat
        shown = feat.examples[: cfg.grounding_examples]
        examples = [
            Source(
                f"example:{p.get('example_id')}",
                str(p.get("corpus", "")),
                str(p.get("task", "")),
                str(p.get("question", ""))[:300],
                s,
            )
            for s, p in shown
        ]
        if route == "model":
            return examples, []
        assert self.searcher is not None
        passages = self.searcher(question, cfg.retrieval_k, "hybrid")
        return passages + examples, passages

    def _checked(self, pieces: Iterator[str], ctx: ReplyContext, attempt: _Attempt) -> Iterator[str]:
        """Yield the reply word by word, each sentence only after the whole text so far passes
        the check; stop generating at the first failure (``attempt.rejected`` says why)."""
        buffer = ""
        try:
            for piece in pieces:
                buffer += piece
                hold = _FIRST_HOLD_CHARS if not attempt.text else _HOLD_CHARS
                cut = _boundary(buffer, len(attempt.text), hold)
                if cut is None:
                    continue
                if not self._passes(buffer[:cut], ctx, attempt):
                    return
                yield from _words(buffer[len(attempt.text) : cut])
                attempt.text = buffer[:cut]
            if buffer.strip() and buffer.strip() != attempt.text.strip():
                if not self._passes(buffer, ctx, attempt):
                    return
                yield from _words(buffer[len(attempt.text) :])
                attempt.text = buffer
        finally:
            close = getattr(pieces, "close", None)
            if close is not None:
                close()  # stop the generation: nothing more of this reply is sent

    @staticmethod
    def _passes(text: str, ctx: ReplyContext, attempt: _Attempt) -> bool:
        verdict = check_reply(text, ctx)
        if not verdict.ok:
            attempt.rejected = verdict.reason
            log.info("reply rejected (%s): %s", verdict.reason, verdict.detail)
        return verdict.ok

    def _generate(self, messages: list[dict[str, str]], max_new_tokens: int) -> tuple[Iterator[str], str]:
        backend, name = self.models.backend()
        limit = min(max_new_tokens, self.settings.dialogue.max_new_tokens)
        return backend.stream(messages, max_new_tokens=limit), name


def _words(text: str) -> Iterator[str]:
    """Checked text as word-sized stream pieces."""
    yield from (m.group(0) for m in _WORD_PIECE.finditer(text))


def _boundary(text: str, start: int, hold: int) -> int | None:
    """The end of the last complete sentence after ``start`` (or a cut of a run over ``hold``)."""
    cut = None
    # a streamed reply is cut for checking where a sentence ends (or at a line break)
    for match in SENTENCE_END.finditer(text, start):
        cut = match.end()
    if cut is None and len(text) - start > hold:
        space = text.rfind(" ", start, len(text) - 1)
        cut = space + 1 if space > start else len(text)
    return cut if cut is not None and text[start:cut].strip() else None


def handoff_text(question: str, intent: str | None) -> str:
    """The hand-off reply, naming the topic when ``intent`` is given (only a certain one is:
    :meth:`Features.intent_is_certain`)."""
    zh = prompts.is_chinese(question)
    if person_request(question):
        return prompts.person_text(question)
    if intent is None:
        return prompts.abstain_text(question)
    topic = humanize_intent(intent)
    return HANDOFF_INTENT_ZH.format(topic=topic) if zh else HANDOFF_INTENT_EN.format(topic=topic.lower())


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
