"""The one real-SmolLM2 test: GGUF -> cached HF folder (once), LoRA steps, streamed reply."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from infinstruct.core.settings import Settings, load_settings


@pytest.mark.slow
def test_smollm2_convert_lora_and_stream(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from accelerate import Accelerator

    from infinstruct.dialogue import LocalDialogueBackend, load_causal_lm, smollm2_hf_folder
    from infinstruct.finetune.training.config import build_config
    from infinstruct.finetune.training.data import encode_chat
    from infinstruct.finetune.training.loop import Phase, Stream, run_loop
    from infinstruct.finetune.training.methods import apply_method

    settings: Settings = load_settings(data_dir=tmp_path / "var")
    folder = smollm2_hf_folder(settings)
    assert (folder / "config.json").exists() and (folder / "converted-from.json").exists()
    assert smollm2_hf_folder(settings) == folder  # cached: no second conversion
    assert not [p for p in folder.parent.glob(".smollm2*") if p.is_dir()]  # no temp folder left behind

    config = build_config(
        {
            "optim": {"max_steps": 2, "batch_size": 2, "lr": 1e-3},
            "method": {"lora": {"r": 4, "target_modules": ["q_proj", "v_proj"]}},
        },
        name="t",
    )
    model, tokenizer = load_causal_lm(settings, "smollm2", device="cpu")
    model = apply_method(config, model)
    chat = [
        {"role": "user", "content": "My parcel is late."},
        {"role": "assistant", "content": "Sorry! Please DM us your order number and we will check."},
    ]
    feature = encode_chat(tokenizer, chat, max_len=96)
    assert feature is not None
    result = run_loop(
        None,
        config,
        model=model,
        pad_id=tokenizer.pad_token_id,
        run_dir=tmp_path / "run",
        phases=[Phase("sft", 2, 1.0, [(Stream([feature], seed=0), 2)])],
        resume=False,
        accelerator=Accelerator(cpu=True),
        show_progress=False,
    )
    assert result.steps == 2 and all(math.isfinite(x) for x in result.losses)
    adapter = tmp_path / "adapter"
    model.save_pretrained(str(adapter))
    tokenizer.save_pretrained(str(adapter))
    backend = LocalDialogueBackend.load(settings, base="smollm2", adapter_path=adapter, device="cpu")
    pieces = list(backend.stream([{"role": "user", "content": "Where is my order?"}], max_new_tokens=4))
    assert "".join(pieces).strip()
