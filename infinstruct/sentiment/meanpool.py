"""A BERT classifier whose head reads the mean of the token vectors instead of [CLS].

The bundled encoder (all-MiniLM-L6-v2) was trained as a sentence-transformers model with mean
pooling: its [CLS] vector and pooler were never trained for sentence meaning. A linear probe
on the frozen model shows it (PhraseBank validation: mean-pooled 0.746 vs [CLS]+pooler 0.685,
``bench/sentiment/pooling.py``), so the sentiment head starts from the representation the
encoder was actually trained to give.

The class is registered with the transformers Auto classes under its own ``model_type``, so a
saved folder loads back through ``AutoModelForSequenceClassification`` like any other head;
``register()`` must run before such a load (the scorer and the trainer call it).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

MODEL_TYPE = "infinstruct_bert_meanpool"


@lru_cache(maxsize=1)
def _classes() -> tuple[Any, Any]:
    # Built on first use: importing this module must not import torch (the CLI's --help stays fast).
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertModel
    from transformers.modeling_outputs import SequenceClassifierOutput

    class MeanPoolBertConfig(BertConfig):
        model_type = MODEL_TYPE

    class MeanPoolBertForSequenceClassification(BertForSequenceClassification):
        config_class = MeanPoolBertConfig

        def __init__(self, config: Any) -> None:
            super().__init__(config)
            # No pooler: its weights would be trained for nothing (the head skips it).
            self.bert = BertModel(config, add_pooling_layer=False)
            self.post_init()

        def forward(
            self,
            input_ids: Any = None,
            attention_mask: Any = None,
            token_type_ids: Any = None,
            labels: Any = None,
            **kwargs: Any,
        ) -> Any:
            hidden = self.bert(
                input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, return_dict=True
            ).last_hidden_state
            if attention_mask is None:
                attention_mask = torch.ones(hidden.shape[:2], device=hidden.device)
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            logits = self.classifier(self.dropout(pooled))
            loss = None
            if labels is not None:
                loss = torch.nn.functional.cross_entropy(logits.view(-1, self.num_labels), labels.view(-1))
            return SequenceClassifierOutput(loss=loss, logits=logits)

    return MeanPoolBertConfig, MeanPoolBertForSequenceClassification


@lru_cache(maxsize=1)
def register() -> None:
    """Make ``AutoConfig`` / ``AutoModelForSequenceClassification`` know the mean-pooling head."""
    from transformers import AutoConfig, AutoModelForSequenceClassification

    config_class, model_class = _classes()
    AutoConfig.register(MODEL_TYPE, config_class, exist_ok=True)
    AutoModelForSequenceClassification.register(config_class, model_class, exist_ok=True)


def head_on_encoder(folder: str, **config: Any) -> Any:
    """A fresh mean-pooling classifier on a plain BERT encoder folder (``config`` sets
    num_labels, id2label…); the head is newly initialised, the encoder's weights loaded."""
    register()
    from transformers import BertConfig

    config_class, model_class = _classes()
    values = BertConfig.from_pretrained(folder, **config).to_dict()
    values.pop("model_type", None)  # it becomes MODEL_TYPE, so the saved folder loads back as this class
    return model_class.from_pretrained(folder, config=config_class(**values))
