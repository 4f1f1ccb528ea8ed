"""A seeded throwaway store for the training benchmarks (real twcs + PhraseBank rows)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"


def seeded_store(folder: Path) -> object:
    """Migrated SQLite store under ``folder`` with support + finance instruction examples."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from infinstruct.core.db import upgrade
    from infinstruct.core.settings import load_settings
    from tests.finetune.training.seed import seed_examples

    settings = load_settings(data_dir=folder)
    upgrade(settings)
    seed_examples(
        settings,
        twcs_csv=DATA / "support" / "twcs_head5000_pandas" / "twcs.csv",
        phrasebank=DATA / "finance" / "financial_phrasebank" / "Sentences_AllAgree.txt",
    )
    return settings
