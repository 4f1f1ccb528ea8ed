"""Which vector of the frozen bundled MiniLM should a sentiment head read? A linear probe says.

    python bench/sentiment/pooling.py [--data-dir var/bench-sentiment]

Fits a logistic regression on the frozen encoder's features of ``sentiment-minilm``'s
PhraseBank training split and scores the validation split (never test), for three poolings:
[CLS], [CLS] through BERT's pooler (what ``BertForSequenceClassification`` reads), and the
mean of the token vectors (how the sentence-transformers model was trained). Writes
``bench/results/sentiment-pooling.json``. Load PhraseBank into the data dir first
(``bench/sentiment/sweep.py`` does).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def features(texts: list[str], *, max_length: int, batch_size: int = 64) -> dict[str, Any]:
    import numpy as np
    import torch
    from transformers import AutoModel, AutoTokenizer

    from infinstruct.core.bundled_models import minilm_path

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_path()))
    model = AutoModel.from_pretrained(str(minilm_path())).eval()
    out: dict[str, list[Any]] = {"cls": [], "cls_pooler": [], "mean": []}
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            enc = tokenizer(
                texts[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            result = model(**enc)
            hidden = result.last_hidden_state
            mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out["cls"].append(hidden[:, 0].numpy())
            out["cls_pooler"].append(result.pooler_output.numpy())
            out["mean"].append(((hidden * mask).sum(1) / mask.sum(1)).numpy())
    return {name: np.concatenate(parts) for name, parts in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=REPO / "var" / "bench-sentiment")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from infinstruct.core.settings import load_settings
    from infinstruct.finetune.sentiment.config import load_config
    from infinstruct.finetune.sentiment.data import load_splits

    os.chdir(REPO)
    settings = load_settings(data_dir=args.data_dir)
    config, _ = load_config(settings, "sentiment-minilm")
    splits = load_splits(settings, config.data, seed=config.optim.seed)
    max_length = config.model.max_length
    train = features([ex.text for ex in splits.train], max_length=max_length)
    val = features([ex.text for ex in splits.validation], max_length=max_length)
    y_train = [ex.label for ex in splits.train]
    y_val = np.array([ex.label for ex in splits.validation])
    rows: dict[str, Any] = {"n_train": len(y_train), "n_validation": len(y_val), "validation_accuracy": {}}
    print(f"{'pooling':12} {'validation accuracy':>20}")
    for name in train:
        probe = LogisticRegression(max_iter=3000, random_state=config.optim.seed).fit(train[name], y_train)
        accuracy = round(float((probe.predict(val[name]) == y_val).mean()), 4)
        rows["validation_accuracy"][name] = accuracy
        print(f"{name:12} {accuracy:>20}")
    # The bench format (commit, time, machine) so docs/benchmarks.md can name where it came from.
    import sys

    sys.path.insert(0, str(REPO))
    from bench.common import machine_info, write_result

    path = write_result(
        "sentiment-pooling",
        {
            "what": "linear probe on the frozen bundled MiniLM, fitted on sentiment-minilm's PhraseBank "
            "training split, scored on its validation split (never test), per pooling",
            "produced_by": "python bench/sentiment/pooling.py",
            "machine": machine_info(),
            **rows,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
