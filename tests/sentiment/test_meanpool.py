"""The mean-pooling head: padding-blind, saved and loaded back through the Auto classes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infinstruct.sentiment import load_scorer
from infinstruct.sentiment.meanpool import MODEL_TYPE, head_on_encoder

pytestmark = pytest.mark.slow

TEXTS = ["Operating profit rose to EUR 13.1 mn .", "Sales fell 5 % ." * 12, "补仓补的心力憔悴"]


def _tiny_encoder(folder: Path) -> Path:
    """A 2-layer plain BERT encoder (no head) with the MiniLM tokenizer, like the bundled one."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from infinstruct.core.bundled_models import minilm_path

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    BertModel(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(str(minilm_path())).save_pretrained(folder)
    return folder


def test_head_on_a_plain_encoder_saves_and_loads_through_auto(tmp_path: Path) -> None:
    import torch
    from transformers import AutoTokenizer

    encoder = _tiny_encoder(tmp_path / "encoder")
    labels = {0: "negative", 1: "neutral", 2: "positive"}
    model = head_on_encoder(
        str(encoder), num_labels=3, id2label=labels, label2id={v: k for k, v in labels.items()}
    )
    assert model.bert.pooler is None  # the head never reads [CLS]
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(encoder))
    with torch.inference_mode():
        batch = model(**tokenizer(TEXTS, padding=True, return_tensors="pt")).logits
        alone = model(**tokenizer(TEXTS[:1], return_tensors="pt")).logits
    # Padding tokens are masked out of the mean: the short text scores the same alone.
    np.testing.assert_allclose(alone[0].numpy(), batch[0].numpy(), atol=1e-5)
    loss = model(**tokenizer(TEXTS, padding=True, return_tensors="pt"), labels=torch.tensor([2, 0, 0])).loss
    assert loss is not None and float(loss.detach()) > 0

    saved = tmp_path / "saved"
    model.save_pretrained(saved)
    tokenizer.save_pretrained(saved)
    assert f'"model_type": "{MODEL_TYPE}"' in (saved / "config.json").read_text(encoding="utf-8")
    scorer = load_scorer(saved, version="t", device="cpu")
    expected = torch.softmax(batch, dim=-1).numpy()
    np.testing.assert_allclose(scorer.score(TEXTS), expected, atol=1e-5)
