"""The typed reports of ``infinstruct eval chat`` and ``infinstruct eval answers``.

TypedDicts, not dataclasses: the reports are printed as JSON with exactly these keys (the
CLI's ``--json``, docs/chat.md and the real-data tests read them), and a TypedDict is that
JSON object with types mypy checks.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class RouteReport(TypedDict):
    """Routing quality of one half of the calibration set."""

    items: int
    per_route_accuracy: dict[str, float]
    abstain_precision: float
    abstain_recall: float
    answered_share: float
    #: expected route -> {route taken: count}
    confusion: dict[str, dict[str, int]]


class Bounds(TypedDict):
    abstain_precision: float
    abstain_recall: float


class CalibrationReport(TypedDict):
    """``eval chat``: thresholds fitted on the validation half, reported on the test half."""

    model_version: str | None
    thresholds: dict[str, Any]
    validation: RouteReport
    test: RouteReport
    bounds: Bounds
    meets_bounds: bool
    origins: dict[str, int]
    saved_to: NotRequired[str]


class ReplyShares(TypedDict):
    """Shares of replies customers must never get (all routes, or one route with its ``n``)."""

    label_share: float
    echo_share: float
    degenerate_share: float
    invented_contact_share: float


class RouteShares(ReplyShares):
    n: int


class AnswerShares(ReplyShares):
    by_route: dict[str, RouteShares]
    routes: dict[str, int]


class QuestionCounts(TypedDict):
    reply: int
    intent: int
    off_domain: int


class OffDomain(TypedDict):
    decline_share: float
    routes: dict[str, int]


class InDomain(TypedDict):
    answered_share: float
    intent_routed_share: float


class Similarity(TypedDict):
    """Mean cosine to the real agent reply: ours and the two baselines of the same run."""

    ours: float
    nearest_reply: float
    constant: float
    n: int


class IntentScores(TypedDict):
    accuracy: float
    curated_share: float


class Latency(TypedDict):
    p50_s: float
    p95_s: float
    generated_p50_s: float
    generated_p95_s: float


class AnswerReport(TypedDict):
    """``eval answers``: what customers get on held-out questions."""

    model_version: str
    questions: QuestionCounts
    answers: AnswerShares
    off_domain: OffDomain
    in_domain: InDomain
    similarity: Similarity
    intent: IntentScores
    rejections: dict[str, int]
    latency: Latency
    load_average: list[float]
