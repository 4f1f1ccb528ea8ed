"""Training throughput: our loop vs a plain ``transformers.Trainer`` — same model (the
tiny-scratch recipe's shape, same init), same data, same optimiser settings, same run.
Each trainer runs in its own subprocess so peak memory (max RSS, or CUDA peak) is its own.

    python bench/train/run.py [--steps 30]   # writes bench/results/train.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.train.common import REPO, seeded_store


def _child(which: str, steps: int, folder: Path) -> dict[str, float]:
    from accelerate import Accelerator

    from infinstruct.finetune.training.config import load_config
    from infinstruct.finetune.training.data import collate, encode_examples, load_split
    from infinstruct.finetune.training.loop import Phase, Stream, peak_memory_mb, run_loop
    from infinstruct.finetune.training.methods import apply_method
    from infinstruct.finetune.training.scratch import build_model, train_tokenizer

    settings = seeded_store(folder / which)
    config = load_config(
        settings,
        "tiny-scratch",
        **{
            "optim.max_steps": steps,
            "pretrain.steps": 0,  # type: ignore[arg-type]
            "checkpoint.every_steps": 10_000,
        },
    )
    assert config.model.scratch is not None
    train = load_split(settings, config.data, "train", limit=config.data.max_train)  # type: ignore[arg-type]
    tokenizer = train_tokenizer(
        [m["content"] for e in train for m in e.chat()], config.model.scratch, folder / "tok"
    )
    features = encode_examples(tokenizer, train, max_len=config.data.max_seq_len)
    model = apply_method(config, build_model(config.model.scratch, tokenizer, seed=0))
    pad = tokenizer.pad_token_id
    started = time.monotonic()
    if which == "ours":
        result = run_loop(
            None,
            config,
            model=model,
            pad_id=pad,
            run_dir=folder / "run",
            resume=False,
            phases=[Phase("sft", steps, 1.0, [(Stream(features, seed=0), config.optim.batch_size)])],
            accelerator=Accelerator(cpu=True),
            show_progress=False,
        )
        tokens = result.tokens
    else:
        from transformers import Trainer

        counted = [0]

        def collator(batch: list[dict[str, list[int]]]) -> dict[str, object]:
            out = collate(batch, pad_id=pad)
            counted[0] += int(out["attention_mask"].sum())
            return out

        args = config.to_training_arguments(folder / "hf", report_to="none")
        args.save_strategy = "no"
        args.disable_tqdm = True
        Trainer(model=model, args=args, train_dataset=features, data_collator=collator).train()
        tokens = counted[0]
    seconds = time.monotonic() - started
    return {
        "tokens": tokens,
        "seconds": round(seconds, 2),
        "tokens_per_s": round(tokens / seconds, 1),
        "peak_memory_mb": round(peak_memory_mb(), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--child", choices=["ours", "trainer"])
    parser.add_argument("--folder")
    args = parser.parse_args()
    os.chdir(REPO)
    if args.child:
        print(json.dumps(_child(args.child, args.steps, Path(args.folder))))
        return
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for which in ("ours", "trainer"):
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--child",
                    which,
                    "--steps",
                    str(args.steps),
                    "--folder",
                    tmp,
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            rows[which] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"{'trainer':10} {'tokens/s':>10} {'peak MiB':>10} {'seconds':>8}")
    for which, r in rows.items():
        print(f"{which:10} {r['tokens_per_s']:10.1f} {r['peak_memory_mb']:10.1f} {r['seconds']:8.1f}")
    path = REPO / "bench" / "results" / "train.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"steps": args.steps, "model": "tiny-scratch shape", **rows}, indent=2), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
