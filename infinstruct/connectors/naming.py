"""Corpus names: the default a load gets, and which loads may add a version to a corpus.

Two unrelated files must not become one corpus by accident (BANKING77's ``test.csv`` and
ECD's ``test.txt`` were both ``test``): a dataset's split file is named after its
connector, and a version from another connector or domain is refused, naming ``--corpus``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from infinstruct.connectors.ingest import Plan
    from infinstruct.core.tables import Corpus


#: File stems that name a split of a dataset, not the dataset: ``train.csv`` of BANKING77
#: and ``test.txt`` of ECD must not both become corpus ``test``.
SPLIT_STEMS = frozenset({"train", "test", "valid", "validation", "val", "dev", "data"})


def default_name(source: str, path: Path, the_plan: Plan) -> str:
    """The corpus name when ``--corpus`` is not given: the dataset folder's name, a file's
    stem, or the connector's name for a split file (``train``/``test``/``valid``/``dev``/``data``)."""
    from infinstruct.connectors.fetch import is_url

    if is_url(source):
        from urllib.parse import urlparse

        parsed = urlparse(source)
        return (parsed.netloc + parsed.path).strip("/").replace("/", "_")[:200] or "feed"
    if path.is_dir():
        return path.name
    stem = path.name.split(".")[0]
    return the_plan.connector_name if stem.lower() in SPLIT_STEMS else path.stem


#: Connectors whose records are the same kind of thing and may share a corpus: a news drop
#: folder mixes feeds and news files (``fetch.load_feed``).
FAMILIES = {"feed": "news", "seeking-alpha": "news"}


def incompatible(corpus: Corpus, the_plan: Plan, domain: str | None) -> str | None:
    """Why this load may not add a version to ``corpus`` (None when it may)."""

    def families(names: str) -> set[str]:
        return {FAMILIES.get(n, n) for n in names.split("+") if n}

    new = families(the_plan.connector_name)
    if not new <= families(corpus.connector):
        what = f"connector {the_plan.connector_name}"
    elif domain is not None and domain != corpus.domain:
        what = f"domain {domain}"
    else:
        return None
    return (
        f"corpus {corpus.name!r} holds {corpus.connector} data (domain {corpus.domain}); this load is "
        f"{what}, and adding it as a new version would mix unrelated data (a rollback would act on both). "
        f"Load it into its own corpus with --corpus NAME"
    )
