"""The shape of an ingest report (``infinstruct ingest --json``), shared by its readers.

``connectors.ingest`` writes it; the alerts' feed polls, ``services.py`` and the CLI read
it. It lives in the kernel because the alerts may not import the connectors. Key order is
the JSON's order: the version head, the counts, the interaction extras, then the timing.
"""

from __future__ import annotations

from typing import NotRequired, TypedDict


class SkippedFile(TypedDict):
    file: str
    reason: str


class VersionHead(TypedDict):
    """Which corpus version a load wrote into, from what."""

    corpus: str
    version: int
    version_id: int | None
    domain: str
    connector: str
    source: str
    skipped: list[SkippedFile]


class LoadCounts(TypedDict):
    read: int
    records: int
    loaded: int
    duplicates: int
    near_duplicates: int
    quarantined: int
    quarantine_reasons: dict[str, int]
    kinds: dict[str, int]
    resumed: bool
    unchanged: bool


class InteractionCounts(TypedDict, total=False):
    """Only for loads that carried interactions (users × items) or preference pairs."""

    interaction_users: int
    interaction_items: int
    pairs: int


class IngestReport(VersionHead, LoadCounts, InteractionCounts):
    seconds: float
    rate: NotRequired[float]  # records read per second; absent when the content was unchanged
