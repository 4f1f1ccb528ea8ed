"""``infinstruct eval sentiment --data PATH``: score any labelled file a connector reads.

The file is loaded by the connectors into a throw-away store (a temporary SQLite data dir,
so the user's store never sees it), then its sentiment-labelled documents are scored by a
model version. ``finetune`` may not import ``connectors``, so the ``Ingestor`` that loads it
(``core.protocols``) is passed in by the composition root: ``services.build_ingestor``,
handed down by ``cli.py`` through ``finetune.cli.register``.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from infinstruct.core.db import ensure_schema, get_engine
from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.core.protocols import IngestorFactory
from infinstruct.core.registry import active_version, get_version
from infinstruct.core.settings import DatabaseSettings, Settings
from infinstruct.core.tables import ModelVersion
from infinstruct.finetune.sentiment.config import DataSection
from infinstruct.finetune.sentiment.data import load_examples
from infinstruct.finetune.sentiment.gate import evaluate_version
from infinstruct.finetune.sentiment.reports import FileEvaluation
from infinstruct.sentiment.scorer import SENTIMENT_KIND

log = logging.getLogger(__name__)

EVAL_CORPUS = "eval-sentiment"
#: PhraseBank's names for its agreement levels; other levels are named ``<n>Agree``.
AGREEMENT_NAMES = {100: "AllAgree"}


def _version(settings: Settings, model: str | None) -> ModelVersion:
    if model:
        named = get_version(settings, model)
        if named.kind != SENTIMENT_KIND:
            raise InputError(f"--model {model} is a {named.kind} model; pass a sentiment version")
        return named
    version = active_version(settings, SENTIMENT_KIND)
    if version is None:
        raise NotFoundError(
            "no active sentiment model; pass --model VERSION (see `infinstruct models list --kind sentiment`) "
            "or train one with `infinstruct train sentiment-minilm`"
        )
    return version


def evaluate_file(
    settings: Settings,
    source: str | Path,
    *,
    model: str | None = None,
    connector: str | None = None,
    ingestor_factory: IngestorFactory,
) -> FileEvaluation:
    """Top-level ``accuracy``, ``macro_f1``, ``n``, ``per_class`` (and agreement subsets when the
    file records annotator agreement) of a sentiment version on a labelled file."""
    version = _version(settings, model)
    text = str(source)
    if "://" not in text and not Path(text).expanduser().exists():
        raise InputError(f"no file or folder at {text}; pass --data PATH of a labelled file")
    with tempfile.TemporaryDirectory(prefix="infinstruct-eval-") as tmp:
        scratch = settings.model_copy(update={"data_dir": Path(tmp), "database": DatabaseSettings()})
        try:
            ensure_schema(scratch)
            loaded = ingestor_factory(scratch)(text, connector=connector, corpus=EVAL_CORPUS)
            examples = load_examples(scratch, DataSection())
        finally:
            get_engine(scratch).dispose()  # release the temporary SQLite file before it is removed
    if not examples:
        raise InputError(
            f"{text} holds no sentiment-labelled records (connector {loaded.get('connector')!r} loaded "
            f"{loaded.get('kinds')}); pass a labelled file such as Financial PhraseBank or FinFE"
        )
    levels = sorted({ex.agreement for ex in examples if ex.agreement}, reverse=True)
    subsets = {AGREEMENT_NAMES.get(level, f"{level}Agree"): level for level in levels}
    report = evaluate_version(settings, version, examples, subsets=subsets if len(levels) > 1 else None)
    return {
        "model": version.name,
        "data": text,
        "connector": loaded.get("connector"),
        "quarantined": loaded.get("quarantined", 0),
        **report,
    }
