"""``infinstruct eval model VERSION``: every held-out metric of a registered version, again."""

from __future__ import annotations

import time
from pathlib import Path

from infinstruct.core.errors import InputError
from infinstruct.core.registry import get_version
from infinstruct.core.settings import Settings
from infinstruct.finetune.training.config import build_config
from infinstruct.finetune.training.data import load_split
from infinstruct.finetune.training.evaluate import evaluate_model, write_report
from infinstruct.finetune.training.reports import EvalReport, VersionEvaluation


def evaluate_version(settings: Settings, name: str) -> VersionEvaluation:
    """Load the version, score it on its recipe's test split, write ``reeval/`` reports."""
    from infinstruct.dialogue import load_version
    from infinstruct.finetune.training.bottleneck import artefact_formats

    version = get_version(settings, name)
    if version.kind != "dialogue":
        raise InputError(f"{version.name} is a {version.kind} model; use `infinstruct eval {version.kind}`")
    config = build_config(
        {k: v for k, v in version.recipe_resolved.items() if k != "name"},
        name=version.recipe,
        source=f"model version {version.name}",
    )
    examples = load_split(settings, config.data, "test", limit=config.data.max_eval)
    model, tokenizer = load_version(settings, version, formats=artefact_formats())
    started = time.monotonic()
    metrics = evaluate_model(
        settings,
        model,
        tokenizer,
        examples,
        max_len=config.data.max_seq_len,
        batch_size=config.eval.batch_size,
        generate=config.eval.generate,
        max_new_tokens=config.eval.max_new_tokens,
    )
    report: EvalReport = {
        "version": version.name,
        "recipe": version.recipe,
        "splits": {"test": metrics},
        "seconds": round(time.monotonic() - started, 1),
    }
    write_report(Path(version.artefact_path) / "reeval", report)
    samples = metrics.pop("samples", [])  # last, after the metrics, as the JSON always had them
    return {"version": version.name, "recipe": version.recipe, **metrics, "samples": samples}
