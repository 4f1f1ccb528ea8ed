"""Held-out evaluation of a dialogue model: loss, perplexity, loss per character, and on
generated replies chrF, ROUGE-L and embedding similarity to the reference reply.

``loss_per_char`` (response NLL divided by response characters) does not depend on the
tokenizer, so it compares models with different vocabularies fairly; the activation gate
uses it.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from infinstruct.core.errors import InfinstructError
from infinstruct.core.settings import Settings
from infinstruct.finetune.harness import report as harness_report
from infinstruct.finetune.training.data import IGNORE, Example, collate, encode_chat
from infinstruct.finetune.training.reports import LossMetrics, SplitEvaluation, TextMetrics

log = logging.getLogger(__name__)

#: Lower is better for these; the rest are higher-is-better.
LOWER_IS_BETTER = frozenset({"loss", "perplexity", "loss_per_char"})


def score_loss(
    model: Any, tokenizer: Any, examples: list[Example], *, max_len: int, batch_size: int
) -> LossMetrics:
    """Mean response-token loss, perplexity and loss per response character."""
    import torch

    features = [f for f in (encode_chat(tokenizer, e.chat(), max_len=max_len) for e in examples) if f]
    if not features:
        return {"n": 0}
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    total_nll, total_tokens, total_chars = 0.0, 0, 0
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for i in range(0, len(features), batch_size):
            chunk = features[i : i + batch_size]
            batch = {k: v.to(device) for k, v in collate(chunk, pad_id=pad).items()}
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            logits = logits[:, -batch["labels"].shape[1] :, :]  # prompt/prefix tuning prepend virtual tokens
            shift_logits = logits[:, :-1, :].float()
            shift_labels = batch["labels"][:, 1:]
            nll = torch.nn.functional.cross_entropy(
                shift_logits.reshape(-1, shift_logits.shape[-1]),
                shift_labels.reshape(-1),
                ignore_index=IGNORE,
                reduction="sum",
            )
            total_nll += float(nll)
            total_tokens += int((shift_labels != IGNORE).sum())
            for f in chunk:
                reply = [t for t, lab in zip(f["input_ids"], f["labels"], strict=True) if lab != IGNORE]
                total_chars += len(tokenizer.decode(reply, skip_special_tokens=True))
    model.train(was_training)
    loss = total_nll / max(total_tokens, 1)
    return {
        "n": len(features),
        "tokens": total_tokens,
        "loss": round(loss, 5),
        "perplexity": round(math.exp(min(loss, 50.0)), 3),
        "loss_per_char": round(total_nll / max(total_chars, 1), 5),
    }


def generate_replies(
    model: Any, tokenizer: Any, examples: list[Example], *, max_new_tokens: int, batch_size: int
) -> list[tuple[str, str]]:
    """``(prediction, reference)`` for each example: greedy replies to its last prompt."""
    import torch

    pairs: list[tuple[str, str]] = []
    prompts, refs = [], []
    for e in examples:
        chat = e.chat()
        last = max(i for i, m in enumerate(chat) if m["role"] == "assistant")
        prompts.append(tokenizer.apply_chat_template(chat[:last], tokenize=False, add_generation_prompt=True))
        refs.append(chat[last]["content"])
    device = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # generation continues at the right edge of every row
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for i in range(0, len(prompts), batch_size):
                enc = tokenizer(
                    prompts[i : i + batch_size], return_tensors="pt", padding=True, add_special_tokens=False
                ).to(device)
                out = model.generate(
                    **enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id
                )
                new = out[:, enc["input_ids"].shape[1] :] if out.shape[1] > enc["input_ids"].shape[1] else out
                for row, ref in zip(new, refs[i : i + batch_size], strict=True):
                    pairs.append((tokenizer.decode(row, skip_special_tokens=True).strip(), ref))
    finally:
        tokenizer.padding_side = side
        model.train(was_training)
    return pairs


def text_metrics(settings: Settings, pairs: list[tuple[str, str]]) -> TextMetrics:
    """chrF and ROUGE-L (0-100), and embedding cosine similarity (0-1) of predictions to references."""
    import sacrebleu
    from rouge_score import rouge_scorer

    if not pairs:
        return {}
    preds = [p for p, _ in pairs]
    refs = [r for _, r in pairs]
    chrf = sacrebleu.corpus_chrf(preds, [refs]).score
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    rouge = sum(scorer.score(r, p)["rougeL"].fmeasure for p, r in pairs) / len(pairs) * 100
    return {"chrf": round(chrf, 3), "rougeL": round(rouge, 3), "embed_sim": _embed_sim(settings, preds, refs)}


def _embed_sim(settings: Settings, preds: list[str], refs: list[str]) -> float | None:
    try:
        from infinstruct.embeddings.embedder import load_embedder
    except ImportError:
        log.warning("no embedder available (infinstruct.embeddings.embedder); embed_sim skipped")
        return None
    try:
        embedder = load_embedder(settings)
        a = embedder.embed([p or " " for p in preds])
        b = embedder.embed(refs)
    except (InfinstructError, OSError) as exc:
        log.warning("embedder failed (%s); embed_sim skipped", exc)
        return None
    return round(float((a * b).sum(axis=1).mean()), 4)


def evaluate_model(
    settings: Settings,
    model: Any,
    tokenizer: Any,
    examples: list[Example],
    *,
    max_len: int,
    batch_size: int,
    generate: int,
    max_new_tokens: int,
) -> SplitEvaluation:
    """Every metric on ``examples``; text metrics on the first ``generate`` of them."""
    metrics: SplitEvaluation = {
        **score_loss(model, tokenizer, examples, max_len=max_len, batch_size=batch_size)
    }
    if generate and examples:
        pairs = generate_replies(
            model, tokenizer, examples[:generate], max_new_tokens=max_new_tokens, batch_size=batch_size
        )
        metrics.update(text_metrics(settings, pairs))
        metrics["samples"] = [{"prediction": p, "reference": r} for p, r in pairs[:3]]
    return metrics


def write_report(folder: Path, report: Mapping[str, Any]) -> None:
    """``eval.json`` and a human ``eval.md`` beside the artefact (the harness's writer)."""
    harness_report.write_report(folder, report, render_markdown)


def render_markdown(report: Mapping[str, Any]) -> str:
    lines = [f"# Evaluation of {report.get('version', '?')} ({report.get('recipe', '?')})", ""]
    keys = ["n", "loss", "perplexity", "loss_per_char", "chrf", "rougeL", "embed_sim"]
    splits = {k: v for k, v in report.get("splits", {}).items() if isinstance(v, dict)}
    if splits:
        lines += ["| split | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
        for name, values in splits.items():
            lines.append(f"| {name} | " + " | ".join(str(values.get(k, "")) for k in keys) + " |")
        lines.append("")
    for key in ("val_loss_drop", "forgetting", "train"):
        if key in report:
            lines += [f"## {key}", "", "```json", json.dumps(report[key], indent=2, default=str), "```", ""]
    for sample in report.get("splits", {}).get("test", {}).get("samples", []):
        lines += [f"- **reference**: {sample['reference']}", f"  **model**: {sample['prediction']}"]
    return "\n".join(lines) + "\n"
