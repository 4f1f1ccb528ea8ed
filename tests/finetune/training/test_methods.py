"""Every peft method wraps a real (tiny) causal LM, trains a step, and the loss stays finite."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from infinstruct.finetune.training.config import build_config
from infinstruct.finetune.training.data import IGNORE, collate, encode_chat, pack
from infinstruct.finetune.training.loop import Phase, Stream, run_loop
from infinstruct.finetune.training.methods import apply_method, parameter_counts
from infinstruct.finetune.training.scratch import build_model, train_tokenizer

TEXTS = [
    "my parcel is late, can you help?",
    "Sorry to hear that! Please DM us your order number.",
    "the app keeps crashing on login",
    "Thanks for flagging this, we are on it.",
] * 20
CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "my parcel is late"},
    {"role": "assistant", "content": "Please DM us your order number."},
]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory: pytest.TempPathFactory) -> object:
    config = build_config(
        {
            "model": {
                "base": "scratch",
                "scratch": {"vocab_size": 300, "n_embd": 32, "n_head": 2, "n_layer": 1},
            },
            "method": {"name": "full"},
        },
        name="x",
    )
    assert config.model.scratch is not None
    return train_tokenizer(TEXTS, config.model.scratch, tmp_path_factory.mktemp("tok"))


def test_labels_cover_only_the_reply(tokenizer: object) -> None:
    feature = encode_chat(tokenizer, CHAT, max_len=200)
    assert feature is not None
    reply = [t for t, lab in zip(feature["input_ids"], feature["labels"], strict=True) if lab != IGNORE]
    assert tokenizer.decode(reply).strip() == "Please DM us your order number.<|im_end|>"  # type: ignore[attr-defined]
    assert feature["labels"][0] == IGNORE
    # Truncation keeps the end (the reply), and nothing survives when the limit is absurd.
    short = encode_chat(tokenizer, CHAT, max_len=12)
    assert short is not None and len(short["input_ids"]) == 12
    packed = pack([feature, feature, feature], max_len=len(feature["input_ids"]) * 2)
    assert [len(p["input_ids"]) for p in packed] == [len(feature["input_ids"]) * 2, len(feature["input_ids"])]


def test_stream_is_a_pure_function_of_position() -> None:
    features = [{"input_ids": [i], "labels": [i]} for i in range(10)]
    a, b = Stream(features, seed=3), Stream(features, seed=3)
    assert a.take(25, 5) == b.take(25, 5)
    assert sorted(f["input_ids"][0] for f in a.take(0, 10)) == list(range(10))  # an epoch is a permutation


@pytest.mark.parametrize("method", ["full", "lora", "adalora", "prefix", "ia3", "prompt", "bottleneck"])
def test_method_trains(method: str, tokenizer: object, tmp_path: Path) -> None:
    from accelerate import Accelerator

    config = build_config(
        {
            "model": {
                "base": "scratch",
                "scratch": {"vocab_size": 300, "n_embd": 32, "n_head": 2, "n_layer": 1},
            },
            "method": {
                "name": method,
                "num_virtual_tokens": 4,
                "lora": {"target_modules": ["q_proj", "v_proj"]},
                "ia3_target_modules": ["k_proj", "v_proj", "down_proj"],
            },
            "pretrain": {"steps": 1},
            "optim": {"max_steps": 2, "batch_size": 2, "optimizer": "sgd" if method == "ia3" else "adamw"},
        },
        name=f"t-{method}",
    )
    assert config.model.scratch is not None
    model = apply_method(config, build_model(config.model.scratch, tokenizer, seed=0))
    counts = parameter_counts(model)
    assert 0 < counts["trainable"] <= counts["total"]
    assert (counts["trainable"] == counts["total"]) == (method == "full")
    feature = encode_chat(tokenizer, CHAT, max_len=64)
    assert feature is not None
    result = run_loop(
        None,
        config,
        model=model,
        pad_id=tokenizer.pad_token_id,  # type: ignore[attr-defined]
        phases=[Phase("sft", 2, 1.0, [(Stream([feature], seed=0), 2)])],
        run_dir=tmp_path,
        resume=False,
        accelerator=Accelerator(cpu=True),
        show_progress=False,
    )
    assert result.steps == 2 and all(math.isfinite(x) for x in result.losses)
    batch = collate([feature], pad_id=tokenizer.pad_token_id)  # type: ignore[attr-defined]
    assert math.isfinite(float(model(**batch).loss))
