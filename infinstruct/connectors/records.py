"""What connectors yield, and the contract every connector implements.

A connector turns one source family (a file, or a dataset folder) into a stream of
:class:`DocumentRecord` / :class:`InteractionRecord` rows, plus :class:`Quarantined` rows
for what it could not read. The store side (``ingest``) hashes, scrubs, dedups and writes;
connectors only parse. Field meanings follow ``docs/data-model.md``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from infinstruct.connectors.safeio import Limits


@dataclass
class DocumentRecord:
    """One ``Document`` row before it has an id (see the data model for each kind)."""

    kind: str
    text: str
    title: str = ""
    label: str | None = None
    score: float | None = None
    external_id: str | None = None
    group_key: str | None = None
    published_at: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    #: What makes two records "the same" when it is not the text (a feed item's guid).
    identity: str | None = None
    #: Source rows this record was built from (a twcs thread is many tweets).
    source_rows: int = 1
    line: int | None = None


@dataclass
class InteractionRecord:
    """One ``Interaction`` row; ``item_id`` is the item document's ``external_id``."""

    user_id: str
    item_id: str
    kind: str
    value: float | None = None
    text: str = ""
    ts: datetime | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    source_rows: int = 1
    line: int | None = None


@dataclass
class Quarantined:
    """A record that could not be read, kept with where it was and why."""

    file: str
    reason: str
    raw: str = ""
    line: int | None = None
    offset: int | None = None


Record = DocumentRecord | InteractionRecord
Item = DocumentRecord | InteractionRecord | Quarantined


@runtime_checkable
class Connector(Protocol):
    """One source family. ``detect`` is cheap (it peeks); ``read`` streams."""

    #: Registry name, used by ``--connector``.
    name: str
    #: Default corpus domain: support|finance|items|labelled.
    domain: str
    #: What the connector looks for; shown when nothing matched.
    expects: str
    #: The ingest limits its reads keep to (``registry`` sets them from the load's settings).
    limits: Limits

    def detect(self, path: Path) -> float:
        """Confidence in [0, 1] that this connector reads ``path`` (a file or a folder)."""
        ...

    def read(self, path: Path) -> Iterator[Item]:
        """Records of ``path``; malformed ones come out as :class:`Quarantined`."""
        ...
