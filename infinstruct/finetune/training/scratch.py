"""The miniature of the full pipeline: a tokenizer trained on the corpus and a small causal
LM built from a config (no pretrained weights at all)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infinstruct.finetune.training.config import ScratchModel

log = logging.getLogger(__name__)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<pad>"]
#: ChatML, the same turn format as SmolLM2, so prompts look alike across our models.
CHAT_TEMPLATE = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + message['content'] "
    "+ '<|im_end|>' + '\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def train_tokenizer(texts: Sequence[str], spec: ScratchModel, folder: Path) -> Any:
    """A byte-level BPE tokenizer trained on ``texts``, saved to ``folder`` with a chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    if not texts:
        raise ValueError("no text to train the tokenizer on")
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size,
        min_frequency=spec.min_frequency,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<|im_start|>",
        eos_token="<|im_end|>",
        pad_token="<pad>",
        unk_token="<|endoftext|>",
        model_max_length=spec.n_positions,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(folder))
    log.info("trained a %d-token BPE tokenizer on %d texts", len(tokenizer), len(texts))
    return tokenizer


def build_model(spec: ScratchModel, tokenizer: Any, *, seed: int) -> Any:
    """A freshly initialised causal LM of the recipe's shape."""
    import torch
    from transformers import AutoModelForCausalLM, GPT2Config, LlamaConfig

    torch.manual_seed(seed)
    ids = {
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    config: Any
    if spec.arch == "llama":
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=spec.n_embd,
            intermediate_size=spec.n_embd * 8 // 3,
            num_hidden_layers=spec.n_layer,
            num_attention_heads=spec.n_head,
            num_key_value_heads=spec.n_head,
            max_position_embeddings=spec.n_positions,
            tie_word_embeddings=True,
            **ids,
        )
    else:
        config = GPT2Config(
            vocab_size=len(tokenizer),
            n_embd=spec.n_embd,
            n_layer=spec.n_layer,
            n_head=spec.n_head,
            n_positions=spec.n_positions,
            **ids,
        )
    model = AutoModelForCausalLM.from_config(config)
    log.info(
        "built a %s model from config: %.1fM parameters",
        spec.arch,
        sum(p.numel() for p in model.parameters()) / 1e6,
    )
    return model
