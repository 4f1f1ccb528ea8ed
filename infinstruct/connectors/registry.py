"""The connector registry: every connector by name, and format detection over them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from infinstruct.connectors.conversation import ConversationConnector
from infinstruct.connectors.dialogues import (
    AbcdConnector,
    ChatJsonlConnector,
    EcdConnector,
    TaskmasterConnector,
)
from infinstruct.connectors.items import AmazonReviewsConnector, GenericCatalogueConnector, MovieLensConnector
from infinstruct.connectors.labelled import (
    Banking77Connector,
    FinFeConnector,
    FinNspConnector,
    FiqaConnector,
    GenericLabelledConnector,
    PhraseBankConnector,
    TwitterFinancialNewsConnector,
)
from infinstruct.connectors.news import FeedConnector, GenericNewsConnector, SeekingAlphaConnector
from infinstruct.connectors.records import Connector
from infinstruct.connectors.safeio import DEFAULT_LIMITS, Limits
from infinstruct.connectors.twcs import TwcsConnector
from infinstruct.core.errors import ConnectorError, InputError

#: Below this, a detection is a guess, not a match.
MIN_CONFIDENCE = 0.3
#: Files in a dataset folder that describe it rather than hold records.
DOC_FILE = re.compile(r"^(source|readme|licen[cs]e|copying|notice|changelog)([._-].*)?$", re.IGNORECASE)


def all_connectors(
    columns: dict[str, str] | None = None,
    *,
    agent_roles: list[str] | None = None,
    score_thresholds: tuple[float, float] | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> list[Connector]:
    """Every connector, reading within ``limits``; the generic ones get the ``--map`` mapping
    and their options (``--agent-roles`` for conversations, ``--score-thresholds`` for labels)."""
    found: list[Connector] = [
        TwcsConnector(),
        Banking77Connector(),
        AbcdConnector(),
        TaskmasterConnector(),
        ChatJsonlConnector(),
        EcdConnector(),
        FeedConnector(),
        PhraseBankConnector(),
        FiqaConnector(),
        TwitterFinancialNewsConnector(),
        SeekingAlphaConnector(),
        FinFeConnector(),
        FinNspConnector(),
        MovieLensConnector(),
        AmazonReviewsConnector(),
        ConversationConnector(columns, agent_roles=agent_roles),
        GenericLabelledConnector(columns, score_thresholds=score_thresholds),
        GenericNewsConnector(columns, score_thresholds=score_thresholds),
        GenericCatalogueConnector(columns),
    ]
    for connector in found:
        connector.limits = limits
    return found


def names() -> list[str]:
    return [c.name for c in all_connectors()]


def get_connector(
    name: str,
    columns: dict[str, str] | None = None,
    *,
    agent_roles: list[str] | None = None,
    score_thresholds: tuple[float, float] | None = None,
) -> Connector:
    for connector in all_connectors(columns, agent_roles=agent_roles, score_thresholds=score_thresholds):
        if connector.name == name:
            return connector
    raise ConnectorError(f"no connector named {name!r}; choose one of {', '.join(names())}")


#: Every key a generic connector maps: conversation (conversation, role, text, time, author),
#: labelled (text, label), news (title, text, date, link, guid, tickers, label), catalogue
#: (id, title, text, genres).
MAP_KEYS = frozenset(
    {"conversation", "role", "text", "time", "author", "label", "title", "date", "link", "guid", "tickers"}
    | {"id", "genres"}
)


@dataclass(frozen=True)
class Options:
    """How the generic connectors read: ``--map``, ``--agent-roles``, ``--score-thresholds``."""

    columns: dict[str, str] | None = None
    agent_roles: list[str] | None = None
    score_thresholds: tuple[float, float] | None = None
    #: The load's ``settings.ingest`` limits (``Limits.of``); every connector reads within them.
    limits: Limits = DEFAULT_LIMITS

    def check(self) -> None:
        """A misspelt ``--map`` key would be ignored silently; name it instead."""
        unknown = sorted(set(self.columns or {}) - MAP_KEYS)
        if unknown:
            raise InputError(
                f"--map key {unknown[0]!r} is not one the generic connectors read; use one of "
                f"{', '.join(sorted(MAP_KEYS))} (e.g. --map text=body)"
            )

    def connectors(self, name: str | None = None) -> list[Connector]:
        found = all_connectors(
            self.columns,
            agent_roles=self.agent_roles,
            score_thresholds=self.score_thresholds,
            limits=self.limits,
        )
        if name is None:
            return found
        get_connector(name)  # the "no connector named …" error
        return [c for c in found if c.name == name]


@dataclass(frozen=True)
class Detection:
    connector: Connector
    confidence: float


def detect(path: Path, connectors: list[Connector]) -> list[Detection]:
    """Every connector's confidence for ``path``, best first."""
    found = [Detection(c, float(c.detect(path))) for c in connectors]
    return sorted(found, key=lambda d: -d.confidence)


def best_match(path: Path, connectors: list[Connector]) -> Connector | None:
    ranked = detect(path, connectors)
    return ranked[0].connector if ranked and ranked[0].confidence >= MIN_CONFIDENCE else None


def no_match_error(path: Path, connectors: list[Connector]) -> ConnectorError:
    """Say which connectors came closest and what each expects."""
    ranked = detect(path, connectors)
    lines = "; ".join(
        f"{d.connector.name} ({d.confidence:.2f}): expects {d.connector.expects}" for d in ranked[:5]
    )
    return ConnectorError(
        f"no connector recognises {path} (none reached confidence {MIN_CONFIDENCE}); closest: {lines}. "
        "Pick one with --connector NAME (and --map KEY=COLUMN for generic files)"
    )
