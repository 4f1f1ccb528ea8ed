"""Commands of training; registered on the root app by ``infinstruct.cli``.

``infinstruct train RECIPE`` and ``infinstruct eval model VERSION``. Nothing heavy is
imported here: torch and transformers load inside the commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import typer
from typer.core import TyperGroup

from infinstruct.core.cli_support import JsonOption, emit, settings_from
from infinstruct.finetune.harness.overrides import parse_sets


class _TrainGroup(TyperGroup):
    """``train RECIPE …`` runs a recipe (``train run``); ``train compare …`` compares methods.

    A first word that is no subcommand is a recipe, so ``infinstruct train RECIPE`` keeps
    working exactly as before the group existed (the console's jobs launch it that way).
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in {"--help", "-h"}):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _human(result: Mapping[str, Any]) -> str:
    if result.get("dry_run"):
        model = result.get("model", {})
        return (
            f"dry run of {result.get('recipe')}: examples {result.get('examples')}, "
            f"model {model.get('status')} ({model.get('would_load') or model.get('base')}) "
            f"{model.get('parameters', '')}"
        )
    lines = [f"trained {result.get('version')} -> {result.get('artefact_path')}"]
    for key in (
        "loss",
        "perplexity",
        "loss_per_char",
        "chrf",
        "rougeL",
        "embed_sim",
        "validation_loss",
        "val_loss_drop",
    ):
        if result.get(key) is not None:
            lines.append(f"  {key}: {result[key]}")
    if "forgetting" in result:
        lines.append(
            f"  forgetting: {result['forgetting'].get('mean_forgetting')} ({result['forgetting'].get('strategy')})"
        )
    return "\n".join(lines)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add these commands to the root app and the shared ``eval`` group."""
    train_app = typer.Typer(
        cls=_TrainGroup,
        help="Train a recipe (`infinstruct train RECIPE`), or compare training methods on its data.",
    )
    app.add_typer(train_app, name="train")
    _register_compare(train_app)

    @train_app.command("run")
    def train(
        ctx: typer.Context,
        recipe: str = typer.Argument(
            "smollm2-lora", help="Recipe name (packaged or in <config-dir>/finetune/) or a YAML path."
        ),
        resume: bool = typer.Option(
            False, "--resume", help="Continue the newest unfinished run of the recipe."
        ),
        continue_from: str | None = typer.Option(
            None, "--continue-from", help="Model version to continue from."
        ),
        dry_run: bool = typer.Option(
            False, "--dry-run", help="Check config, data and model wiring; no training."
        ),
        sets: list[str] = typer.Option([], "--set", help="Override a recipe key: --set optim.max_steps=10."),
        no_progress: bool = typer.Option(False, "--no-progress", help="No progress bar on stderr."),
        as_json: bool = JsonOption,
    ) -> None:
        """Train a recipe (pretrain / instruction-tune / PEFT), evaluate it, register a model version."""
        from infinstruct.core.jobs import current_job_id, finish_job
        from infinstruct.finetune.training.run import run_recipe

        settings = settings_from(ctx)
        job = current_job_id()
        try:
            result = run_recipe(
                settings,
                recipe,
                resume=resume,
                continue_from=continue_from,
                dry_run=dry_run,
                show_progress=not no_progress,
                overrides=parse_sets(sets),
            )
        except BaseException as exc:
            if job is not None:
                finish_job(settings, job, status="failed", error=f"{exc.__class__.__name__}: {exc}")
            raise
        if job is not None:
            finish_job(settings, job, status="succeeded", result=dict(result))
        emit(result, as_json=as_json, human=_human(result))

    @eval_app.command("model")
    def eval_model(
        ctx: typer.Context,
        version: str = typer.Argument(..., help="Model version name (see `infinstruct models list`)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Re-evaluate a dialogue model version on its held-out test split (all metrics)."""
        from infinstruct.finetune.training.reeval import evaluate_version

        result = evaluate_version(settings_from(ctx), version)
        keys = ("loss", "perplexity", "loss_per_char", "chrf", "rougeL", "embed_sim")
        emit(
            result,
            as_json=as_json,
            human=f"{result['version']} on {result['n']} test examples: "
            + ", ".join(f"{k}={result.get(k)}" for k in keys),
        )


def _compare_human(result: dict[str, Any]) -> str:
    from infinstruct.finetune.training.compare import render_table

    head = (
        f"{result['recipe']}: {result['steps']} steps, seed {result['seed']}, "
        f"{result['examples']['train']} train / {result['examples']['validation']} validation examples"
    )
    return head + "\n" + render_table(result)


def _register_compare(train_app: typer.Typer) -> None:
    @train_app.command("compare")
    def compare(
        ctx: typer.Context,
        recipe: str = typer.Argument(
            ..., help="Dialogue recipe whose data, steps and seed every method shares."
        ),
        methods: str = typer.Option(
            "full,lora,adalora,prefix,prompt,ia3,bottleneck",
            "--methods",
            help="Comma list of methods to train.",
        ),
        sets: list[str] = typer.Option([], "--set", help="Override a recipe key for every method."),
        continual: str | None = typer.Option(
            None, "--continual", help="Then train this recipe's domain and report forgetting of the first."
        ),
        no_progress: bool = typer.Option(False, "--no-progress", help="No progress bars on stderr."),
        as_json: bool = JsonOption,
    ) -> None:
        """Train each method on the same data, steps, seed and validation split; one row each."""
        from infinstruct.finetune.training.compare import parse_methods, run_compare

        result = run_compare(
            settings_from(ctx),
            recipe,
            methods=parse_methods(methods),
            overrides=parse_sets(sets),
            continual=continual,
            show_progress=not no_progress,
        )
        emit(result, as_json=as_json, human=_compare_human(result))
