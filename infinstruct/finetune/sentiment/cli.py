"""Commands of the sentiment classifier; ``register`` adds them to the root app.

``infinstruct eval sentiment [--model V] --data PATH [--json]``. Training goes through the
shared ``infinstruct train RECIPE`` (recipes with ``kind: sentiment`` land in
``train.run_sentiment_recipe``). Nothing heavy is imported here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer

from infinstruct.core.cli_support import JsonOption, emit, settings_from
from infinstruct.core.protocols import IngestorFactory


def _human(result: Mapping[str, Any]) -> str:
    lines = [
        f"{result['model']} on {result['n']} labelled sentences of {result['data']}: "
        f"accuracy {result['accuracy']}, macro-F1 {result['macro_f1']}"
    ]
    for label, row in result["per_class"].items():
        lines.append(
            f"  {label:8} precision {row['precision']:.4f} recall {row['recall']:.4f} "
            f"f1 {row['f1']:.4f} support {row['support']}"
        )
    for name, block in (result.get("subsets") or {}).items():
        lines.append(f"  {name}: n {block['n']}, accuracy {block['accuracy']}, macro-F1 {block['macro_f1']}")
    return "\n".join(lines)


def register(app: typer.Typer, eval_app: typer.Typer, *, ingestor_factory: IngestorFactory) -> None:
    """Add these commands to the root app and the shared ``eval`` group.

    ``ingestor_factory`` loads the labelled file (the connectors'; passed in by the root CLI,
    as ``finetune`` may not import ``connectors``).
    """

    @eval_app.command("sentiment")
    def eval_sentiment(
        ctx: typer.Context,
        data: str = typer.Option(..., "--data", help="A labelled file or folder any connector reads."),
        model: str | None = typer.Option(
            None, "--model", help="Sentiment version (default: the active one)."
        ),
        connector: str | None = typer.Option(None, "--connector", help="Connector name (default: detect)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Score a sentiment model version on a labelled file: accuracy, macro-F1, per-class report."""
        from infinstruct.finetune.sentiment.evalfile import evaluate_file

        result = evaluate_file(
            settings_from(ctx), data, model=model, connector=connector, ingestor_factory=ingestor_factory
        )
        emit(result, as_json=as_json, human=_human(result))
