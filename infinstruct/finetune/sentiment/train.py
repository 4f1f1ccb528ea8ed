"""``infinstruct train sentiment-minilm``: data, model, loop, save, evaluate, register — in order.

A run lives in ``<models_dir>/runs/<recipe>-<timestamp>/`` like the dialogue runs: the
resolved recipe, ``run.json`` (what it continues from), the checkpoint, TensorBoard logs, and
``final/`` (the model version's artefact: weights, tokenizer, ``recipe.yaml``, ``eval.json``,
``eval.md``). ``resume=True`` picks the newest unfinished run of the recipe.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infinstruct.core.bundled_models import minilm_path
from infinstruct.core.devices import resolve_device
from infinstruct.core.errors import ConfigError, InputError, ModelLoadError
from infinstruct.core.protocols import SENTIMENT_LABELS
from infinstruct.core.registry import get_version, next_version_name, register_version
from infinstruct.core.settings import Settings
from infinstruct.core.tables import ModelVersion
from infinstruct.finetune.harness.continual import Penalty
from infinstruct.finetune.harness.report import optional_sections
from infinstruct.finetune.runs import mark_complete, resume_run, start_run
from infinstruct.finetune.sentiment import continual
from infinstruct.finetune.sentiment.baseline import run_baseline
from infinstruct.finetune.sentiment.config import (
    DataSection,
    SentimentConfig,
    build_config,
    dump_config,
    load_config,
)
from infinstruct.finetune.sentiment.data import LabelledExample, Splits, load_splits
from infinstruct.finetune.sentiment.evaluate import evaluate_scorer, write_report
from infinstruct.finetune.sentiment.loop import CHECKPOINT, LoopResult, plan_batches, run_loop, total_steps
from infinstruct.finetune.sentiment.reports import EvalReport, Evaluation, RunResult
from infinstruct.sentiment import meanpool
from infinstruct.sentiment.scorer import SENTIMENT_KIND, ClassifierScorer

log = logging.getLogger(__name__)

BUNDLED_MINILM = "minilm"


def run_sentiment_recipe(
    settings: Settings,
    recipe_path: str | Path,
    *,
    resume: bool = False,
    continue_from: str | None = None,
    dry_run: bool = False,
    overrides: dict[str, Any] | None = None,
    show_progress: bool = True,
) -> RunResult | dict[str, Any]:
    """Train a ``kind: sentiment`` recipe end to end; returns the registered version and metrics
    (or, with ``dry_run``, what would be trained)."""
    config, path = load_config(settings, recipe_path, overrides)
    resumed = resume_run(settings, config.name, resume=resume and not dry_run)
    if resumed is not None:  # a resumed run keeps the recipe and parent it started with
        config = build_config(resumed.recipe, name=config.name, source=str(resumed.run_dir))
        continue_from = resumed.continue_from
    parent = get_version(settings, continue_from) if continue_from else None
    if parent is not None and parent.kind != SENTIMENT_KIND:
        raise InputError(
            f"--continue-from {parent.name} is a {parent.kind} model; {config.name} trains sentiment"
        )
    splits = load_splits(settings, config.data, seed=config.optim.seed)
    if dry_run:
        return _dry_run(config, path, splits, parent)
    run_dir = (
        resumed.run_dir
        if resumed
        else start_run(settings, config, name=config.name, continue_from=continue_from)
    )
    return _train(
        settings, config, splits, run_dir=run_dir, parent=parent, resume=resume, show_progress=show_progress
    )


def base_path(config: SentimentConfig, parent: ModelVersion | None) -> Path:
    """The weights a run starts from: its parent version, the bundled MiniLM, or a folder."""
    if parent is not None:
        path = Path(parent.artefact_path)
    elif config.model.base == BUNDLED_MINILM:
        path = minilm_path()
    else:
        path = Path(config.model.base).expanduser()
    if not (path / "config.json").exists():
        raise ModelLoadError(
            f"no model at {path} (model.base {config.model.base!r}); use 'minilm' or a local model folder"
        )
    return path


def _dry_run(
    config: SentimentConfig, path: Path, splits: Splits, parent: ModelVersion | None
) -> dict[str, Any]:
    from transformers import AutoConfig, AutoTokenizer

    meanpool.register()  # a parent with the mean-pooling head
    base = base_path(config, parent)
    model_config = AutoConfig.from_pretrained(str(base))
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    lengths = [len(tokenizer(ex.text)["input_ids"]) for ex in splits.train[:200]]
    return {
        "dry_run": True,
        "recipe": config.name,
        "kind": SENTIMENT_KIND,
        "path": str(path),
        "examples": splits.counts(),
        "steps": total_steps(len(splits.train), config.optim),
        "continue_from": parent.name if parent else None,
        "model": {
            "status": "config ok",
            "base": str(base),
            "would_load": str(base),
            "architecture": (model_config.architectures or ["?"])[0],
            "pooling": "mean"
            if _fresh_mean_head(config, model_config.model_type, base)
            or model_config.model_type == meanpool.MODEL_TYPE
            else "cls",
            "num_labels": len(SENTIMENT_LABELS),
            "truncated_share": round(
                sum(n > config.model.max_length for n in lengths) / max(len(lengths), 1), 3
            ),
        },
    }


def _load_model(config: SentimentConfig, base: Path, device: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    meanpool.register()  # a parent trained with the mean-pooling head loads back through Auto
    torch.manual_seed(config.optim.seed)  # the new head's init is part of the recipe
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    labels = {
        "num_labels": len(SENTIMENT_LABELS),
        "id2label": dict(enumerate(SENTIMENT_LABELS)),
        "label2id": {n: i for i, n in enumerate(SENTIMENT_LABELS)},
    }
    if _fresh_mean_head(config, AutoConfig.from_pretrained(str(base)).model_type, base):
        model = meanpool.head_on_encoder(str(base), **labels)
    else:  # the base's own head class (a parent's, whichever pooling it was trained with)
        model = AutoModelForSequenceClassification.from_pretrained(str(base), **labels)
    if config.model.freeze_embeddings:
        model.get_input_embeddings().weight.requires_grad_(False)
    return model.to(device), tokenizer


def _fresh_mean_head(config: SentimentConfig, base_type: str, base: Path) -> bool:
    """Whether the run builds a new mean-pooling head (a base that already has one keeps it)."""
    if config.model.pooling != "mean" or base_type == meanpool.MODEL_TYPE:
        return False
    if base_type != "bert":
        raise ConfigError(
            f"model.pooling 'mean' needs a BERT-family base (got model_type {base_type!r} at {base}); "
            "use model.pooling: cls"
        )
    return True


def probe_init(
    model: Any, tokenizer: Any, train: list[LabelledExample], *, max_length: int, batch_size: int, seed: int
) -> float:
    """Linear probe, then fine-tune: fit a logistic regression on the frozen features the head
    reads (captured at the classifier's input, whatever the pooling) and start the head there.
    A random head's first steps push noisy gradients into the encoder; this one starts useful.
    Returns the probe's training accuracy."""
    import numpy as np
    import torch
    from sklearn.linear_model import LogisticRegression

    features: list[Any] = []
    hook = model.classifier.register_forward_hook(lambda _m, args, _out: features.append(args[0].detach()))
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(train), batch_size):
                enc = tokenizer(
                    [ex.text for ex in train[start : start + batch_size]],
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                    return_tensors="pt",
                ).to(next(model.parameters()).device)
                model(**enc)
    finally:
        hook.remove()
    x = torch.cat(features).float().cpu().numpy()
    y = np.array([ex.label for ex in train])
    if len(set(y.tolist())) < len(SENTIMENT_LABELS):
        raise InputError(
            f"model.head_init 'probe' needs every label in the training split (got {sorted(set(y.tolist()))})"
        )
    probe = LogisticRegression(max_iter=2000, random_state=seed).fit(x, y)
    with torch.no_grad():
        weight = model.classifier.weight
        weight.copy_(torch.as_tensor(probe.coef_, dtype=weight.dtype, device=weight.device))
        model.classifier.bias.copy_(
            torch.as_tensor(probe.intercept_, dtype=weight.dtype, device=weight.device)
        )
    return round(float(probe.score(x, y)), 4)


@dataclass
class _Earlier:
    """What a continued run knows of its parent's other domains before training."""

    lineage: list[dict[str, Any]] = field(default_factory=list)
    tests: dict[str, list[LabelledExample]] = field(default_factory=dict)
    pool: list[LabelledExample] = field(default_factory=list)  # their training splits (replay, Fisher)
    before: dict[str, Evaluation] = field(default_factory=dict)
    penalty: Penalty | None = None


def _earlier(
    settings: Settings, config: SentimentConfig, parent: ModelVersion, model: Any, tokenizer: Any, scorer: Any
) -> _Earlier:
    """The parent's lineage minus this domain: test splits scored before, replay pool, EWC penalty."""
    out = _Earlier(lineage=[d for d in continual.lineage(parent) if d["domain"] != config.domain])
    for entry in out.lineage:
        splits = load_splits(
            settings, DataSection.model_validate(entry["data"]), seed=int(entry.get("seed", 13))
        )
        out.tests[entry["domain"]] = splits.test
        out.pool.extend(splits.train)
    out.before = {d: evaluate_scorer(scorer, tests) for d, tests in out.tests.items()}
    if config.continual.strategy == "ewc" and out.pool:
        import random

        sample = random.Random(config.optim.seed).sample(
            out.pool, min(len(out.pool), config.continual.fisher_samples)
        )
        out.penalty = continual.ewc_penalty(
            model, tokenizer, sample, lam=config.continual.ewc_lambda, max_length=config.model.max_length
        )
    return out


def _train(
    settings: Settings,
    config: SentimentConfig,
    splits: Splits,
    *,
    run_dir: Path,
    parent: ModelVersion | None,
    resume: bool,
    show_progress: bool,
) -> RunResult:
    started = time.monotonic()
    device = resolve_device(config.model.device)
    base = base_path(config, parent)
    model, tokenizer = _load_model(config, base, device)
    scorer = ClassifierScorer(
        model,
        tokenizer,
        version=config.name,
        max_length=config.model.max_length,
        batch_size=config.eval.batch_size,
    )
    earlier = _earlier(settings, config, parent, model, tokenizer, scorer) if parent else _Earlier()
    # Only a fresh head is probed: a continued model keeps its trained head, and a resumed run's
    # checkpoint already holds one.
    restarting = resume and (run_dir / CHECKPOINT).exists()
    probe_accuracy = None
    if config.model.head_init == "probe" and parent is None and not restarting:
        probe_accuracy = probe_init(
            model,
            tokenizer,
            splits.train,
            max_length=config.model.max_length,
            batch_size=config.eval.batch_size,
            seed=config.optim.seed,
        )
    loop = run_loop(
        settings,
        model,
        tokenizer,
        _batches(config, splits, earlier.pool if config.continual.strategy == "replay" else []),
        optim=config.optim,
        max_length=config.model.max_length,
        run_dir=run_dir,
        every_steps=config.checkpoint.every_steps,
        resume=resume,
        penalty=earlier.penalty,
        show_progress=show_progress,
        desc=f"train {config.name}",
    )
    final = run_dir / "final"
    model.save_pretrained(str(final))
    tokenizer.save_pretrained(str(final))
    dump_config(config, final / "recipe.yaml")
    report = _evaluate(config, splits, scorer, device=device, parent=parent, earlier=earlier)
    report["train"] = _train_block(loop, probe_accuracy=probe_accuracy, device=device, started=started)
    lineage = continual.extend_lineage(earlier.lineage, config.domain, config.data, config.optim.seed)
    version = _register(settings, config, report, final=final, base=base, parent=parent, lineage=lineage)
    report["version"] = version.name
    json_path, md_path = write_report(final, report)
    mark_complete(run_dir, version.name)
    (run_dir / CHECKPOINT).unlink(missing_ok=True)  # ~3x the model's size; the run is done
    split = "test" if "test" in report else "validation"
    scored: Mapping[str, Any] = report.get("test") or report.get("validation") or {}
    log.info(
        "registered %s: %s accuracy %s, macro-F1 %s",
        version.name,
        split,
        scored.get("accuracy"),
        scored.get("macro_f1"),
    )
    return {
        "version": version.name,
        "artefact_path": str(final),
        "run_dir": str(run_dir),
        "kind": SENTIMENT_KIND,
        "report_json": str(json_path),
        "report_md": str(md_path),
        **_summary(report),
    }


def _batches(
    config: SentimentConfig, splits: Splits, replay: list[LabelledExample]
) -> list[list[LabelledExample]]:
    return plan_batches(
        splits.train,
        batch_size=config.optim.batch_size,
        steps=total_steps(len(splits.train), config.optim),
        seed=config.optim.seed,
        replay=replay,
        replay_ratio=config.continual.replay_ratio,
        group_by_length=config.optim.group_by_length,
    )


def _evaluate(
    config: SentimentConfig,
    splits: Splits,
    scorer: Any,
    *,
    device: str,
    parent: ModelVersion | None,
    earlier: _Earlier,
) -> EvalReport:
    """Held-out test and validation, the frozen baseline in the same eval, forgetting."""
    subsets = config.eval.subsets
    report: EvalReport = {"recipe": config.name, "domain": config.domain, "examples": splits.counts()}
    if config.eval.test:
        report["test"] = evaluate_scorer(scorer, splits.test, subsets=subsets)
    if splits.validation:
        report["validation"] = evaluate_scorer(scorer, splits.validation, subsets=subsets)
    if config.eval.baseline and config.eval.test:
        report["baseline"] = run_baseline(
            splits.train,
            splits.test,
            model_path=minilm_path(),
            device=device,
            c=config.eval.baseline_c,
            seed=config.optim.seed,
            subsets=subsets,
        )
    if parent is not None:
        after = {d: evaluate_scorer(scorer, tests) for d, tests in earlier.tests.items()}
        report["forgetting"] = continual.forgetting_report(
            earlier.before, after, strategy=config.continual.strategy
        )
    return report


def _train_block(
    loop: LoopResult, *, probe_accuracy: float | None, device: str, started: float
) -> dict[str, Any]:
    return {
        "steps": loop.steps,
        "resumed_from": loop.resumed_from,
        "sentences": loop.sentences,
        "tokens": loop.tokens,
        "tokens_per_s": loop.tokens_per_s,
        "train_s": loop.seconds,
        "first_loss": loop.losses[0] if loop.losses else None,
        "probe_train_accuracy": probe_accuracy,
        "final_loss": loop.final_loss,
        "device": device,
        "wall_s": round(time.monotonic() - started, 1),
    }


def _register(
    settings: Settings,
    config: SentimentConfig,
    report: EvalReport,
    *,
    final: Path,
    base: Path,
    parent: ModelVersion | None,
    lineage: list[dict[str, Any]],
) -> ModelVersion:
    metrics: dict[str, Any] = {
        **report.get("test", {}),  # absent when a selection sweep trained with eval.test off
        "validation": report.get("validation"),
        "baseline": report.get("baseline"),
        "domains_seen": [d["domain"] for d in lineage],
        "train": report["train"],
    }
    if "forgetting" in report:
        metrics["forgetting"] = report["forgetting"]
    resolved = {**config.model_dump(mode="json"), "domains": lineage}
    version = ModelVersion(
        name=next_version_name(settings, SENTIMENT_KIND),
        kind=SENTIMENT_KIND,
        base=str(
            parent.base if parent else (BUNDLED_MINILM if config.model.base == BUNDLED_MINILM else base)
        ),
        method="full",
        recipe=config.name,
        recipe_resolved=resolved,
        parent_id=parent.id if parent else None,
        metrics=json.loads(json.dumps(metrics, default=str)),
        artefact_path=str(final.resolve()),
    )
    return register_version(settings, version)


def _summary(report: EvalReport) -> RunResult:
    # absent when a selection sweep trained with eval.test off: then every metric is None
    test: Mapping[str, Any] = report.get("test") or {}
    out: RunResult = {
        "accuracy": test.get("accuracy"),
        "macro_f1": test.get("macro_f1"),
        "n": test.get("n"),
        "per_class": test.get("per_class"),
        "subsets": test.get("subsets"),
    }
    out.update(optional_sections(report, "baseline"))  # type: ignore[typeddict-item]  # keys of RunResult
    return out
