"""The compiled single-stream decode step (dialogue.compile_decode) on the real bundled model
(fp32, the setting the serving bench keeps; bf16 compiled can round a greedy token differently):
same greedy tokens as the eager path, and a lone row's static cache hands over to the
batched path when a second request joins."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from infinstruct.core.settings import load_settings
from infinstruct.dialogue.backend import LocalDialogueBackend, generation_options
from infinstruct.dialogue.batching import END
from infinstruct.dialogue.loading import load_causal_lm

pytestmark = pytest.mark.slow  # loads SmolLM2 and compiles it (~40-100 s)

QUESTIONS = ["Where is my parcel?", "我的订单什么时候发货？"]


@pytest.fixture(scope="module")
def smollm2_fp32(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    settings = load_settings(data_dir=str(tmp_path_factory.mktemp("var")))
    return load_causal_lm(settings, "smollm2", device="cpu", dtype="float32")


def greedy_tokens(backend: LocalDialogueBackend, question: str, tokens: int = 24) -> list[int]:
    prompt = backend.prompt_ids([{"role": "user", "content": question}], max_new_tokens=tokens)
    request = backend.scheduler.submit(prompt, max_new_tokens=tokens, deadline=time.monotonic() + 300)
    while (item := request.out.get(timeout=300)) is not END:
        assert not isinstance(item, BaseException), item
    return list(request.generated)


def test_the_setting_reaches_the_backend(tmp_path: Path) -> None:
    settings = load_settings(data_dir=str(tmp_path))
    assert generation_options(settings.dialogue)["compile_decode"] is False  # off unless asked
    options = generation_options(settings.dialogue.model_copy(update={"compile_decode": True}))
    assert options["compile_decode"] is True and options["compile_max_len"] == 1024
    assert options["compile_threads"] == 1  # the decoding thread's own OpenMP count (threads.py)


def test_compiled_greedy_replies_equal_the_eager_ones(smollm2_fp32: tuple[Any, Any]) -> None:
    model, tokenizer = smollm2_fp32
    eager = LocalDialogueBackend(model, tokenizer)
    compiled = LocalDialogueBackend(model, tokenizer, compile_decode=True, compile_max_len=256)
    assert compiled.compiled is not None
    assert compiled.compiled.ready.wait(timeout=600), compiled.compiled.failed
    warm_steps = compiled.compiled.steps
    for question in QUESTIONS:
        assert greedy_tokens(compiled, question) == greedy_tokens(eager, question)
    assert compiled.compiled.steps > warm_steps  # the replies did go through the compiled step
    # a reply that does not fit the static cache decodes eagerly, with the same tokens
    before = compiled.compiled.steps
    long_reply = greedy_tokens(compiled, QUESTIONS[0], tokens=260)
    assert compiled.compiled.steps == before
    assert long_reply[:24] == greedy_tokens(eager, QUESTIONS[0])
    eager.close()
    compiled.close()


def test_a_second_row_takes_over_the_static_cache(smollm2_fp32: tuple[Any, Any]) -> None:
    import torch
    from transformers import DynamicCache

    from infinstruct.dialogue.compiled import CompiledDecoder

    model, tokenizer = smollm2_fp32
    decoder = CompiledDecoder(model, max_len=128)
    decoder.warm_up()
    assert decoder.ready.is_set(), decoder.failed
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": QUESTIONS[0]}], add_generation_prompt=True, return_dict=True
    )["input_ids"]
    ids = torch.tensor([list(prompt)])
    with torch.inference_mode():
        dynamic = DynamicCache()
        eager = model(input_ids=ids, cache=dynamic, use_cache=True).logits[:, -1, :].argmax(-1, keepdim=True)
        fast = decoder.prefill(ids).argmax(-1, keepdim=True)
        for position in range(ids.shape[1], ids.shape[1] + 4):
            assert int(fast) == int(eager)
            eager = (
                model(input_ids=eager, cache=dynamic, use_cache=True)
                .logits[:, -1, :]
                .argmax(-1, keepdim=True)
            )
            fast = decoder.step(fast, position).argmax(-1, keepdim=True)
        handed = decoder.to_dynamic(ids.shape[1] + 4)
        assert handed.get_seq_length() == dynamic.get_seq_length()
        own_layers: list[Any] = list(dynamic.layers)
        for mine, theirs in zip(handed.layers, own_layers, strict=True):
            # the compiled kernels round a few elements differently from eager, so the
            # caches agree as a whole (a wrong position or layer would be off by ~100 %)
            for got, want in ((mine.keys, theirs.keys), (mine.values, theirs.values)):
                assert got.shape == want.shape
                assert float((got.float() - want.float()).norm() / want.float().norm()) < 0.01
        # and the batched (eager) path carries on from the handed-over cache as from its own
        on_handed = model(input_ids=fast, cache=handed, use_cache=True).logits[:, -1, :].argmax(-1)
        on_dynamic = model(input_ids=eager, cache=dynamic, use_cache=True).logits[:, -1, :].argmax(-1)
        assert int(on_handed) == int(on_dynamic)
