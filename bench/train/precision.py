"""LoRA training step speed of the default recipe's model: fp32 (baseline) vs bf16 autocast.

What ``bf16: auto`` in ``smollm2-lora.yaml`` buys on a CPU with native bf16 (AVX512-BF16 or
AMX). Same model (SmolLM2-135M-Instruct + the recipe's LoRA), same batch (8 sequences of 160
tokens), same optimiser; each round times one step of each setting, interleaved. Quality is
not measured here: the recipe's validation loss under both settings is in docs/chat.md.

    python bench/train/precision.py [--rounds 5]   # writes bench/results/train-precision.json
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.common import interleave, write_result


def lora_step_timer(batch: int, seq_len: int) -> dict[str, Any]:
    """A callable per setting that runs one LoRA step and returns its seconds."""
    import contextlib

    import torch
    from peft import get_peft_model

    from infinstruct.core.settings import load_settings
    from infinstruct.dialogue import smollm2_hf_folder
    from infinstruct.finetune.training.config import load_config

    settings = load_settings()
    config = load_config(settings, "smollm2-lora")
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(smollm2_hf_folder(settings)), dtype=torch.float32)
    model = get_peft_model(model, config.to_peft_config())
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=config.optim.lr)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (batch, seq_len), generator=generator)

    def step(bf16: bool) -> dict[str, float]:
        context = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        started = time.perf_counter()
        with context:
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return {"step_s": time.perf_counter() - started}

    step(False), step(True)  # first calls pay one-off allocation and kernel selection
    return {"fp32": lambda: step(False), "bf16-autocast": lambda: step(True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq-len", type=int, default=160)
    args = parser.parse_args()
    from infinstruct.core.devices import native_bf16

    sides = lora_step_timer(args.batch, args.seq_len)
    result = interleave(sides, rounds=args.rounds)
    fp32 = result["fp32"]["step_s"]["median"]
    bf16 = result["bf16-autocast"]["step_s"]["median"]
    path = write_result(
        "train-precision",
        {
            "produced_by": f"python bench/train/precision.py --rounds {args.rounds}",
            "baseline": "fp32",
            "batch": args.batch,
            "seq_len": args.seq_len,
            "native_bf16": native_bf16("cpu"),
            "results": result,
            "speedup_bf16_over_fp32": round(fp32 / bf16, 3),
        },
    )
    print(f"fp32 {fp32:.2f} s/step, bf16 autocast {bf16:.2f} s/step ({fp32 / bf16:.2f}x); wrote {path}")


if __name__ == "__main__":
    main()
