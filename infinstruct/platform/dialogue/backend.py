"""The local dialogue backend: a transformers causal LM (+ adapter) streaming its reply.

One model instance is shared by the server's threads, so generation is serialised with a
lock; a consumer that stops reading early (a closed browser tab) stops the generation
thread too, through a stopping criterion, instead of leaving it to run to the end.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infinstruct.platform.dialogue.loading import load_causal_lm, load_version
from infinstruct.platform.errors import InputError
from infinstruct.platform.settings import Settings
from infinstruct.platform.tables import ModelVersion

log = logging.getLogger(__name__)


class LocalDialogueBackend:
    """Implements ``infinstruct.platform.protocols.DialogueBackend`` with a local model."""

    def __init__(
        self, model: Any, tokenizer: Any, *, version: str = "base", temperature: float = 0.0
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.version = version
        self.temperature = temperature
        self._lock = threading.Lock()

    # -- constructors ------------------------------------------------------------------
    @classmethod
    def load(
        cls,
        settings: Settings,
        *,
        base: str | None = None,
        adapter_path: str | Path | None = None,
        version: str | None = None,
        device: str = "auto",
    ) -> LocalDialogueBackend:
        """The base model of ``settings.dialogue.base_model`` (or ``base``), + an adapter."""
        name = base or settings.dialogue.base_model
        model, tokenizer = load_causal_lm(settings, name, adapter_path, device=device)
        return cls(model, tokenizer, version=version or name, temperature=settings.dialogue.temperature)

    @classmethod
    def from_version(
        cls, settings: Settings, version: ModelVersion | str, *, device: str = "auto"
    ) -> LocalDialogueBackend:
        """A registered model version (base + peft adapter, or a full model)."""
        if isinstance(version, str):
            from infinstruct.platform.registry import get_version

            version = get_version(settings, version)
        if version.kind != "dialogue":
            raise InputError(f"{version.name} is a {version.kind} model, not a dialogue model")
        model, tokenizer = load_version(settings, version, device=device)
        return cls(model, tokenizer, version=version.name, temperature=settings.dialogue.temperature)

    # -- generation --------------------------------------------------------------------
    def prompt_ids(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> Any:
        """Token ids of ``messages`` under the model's chat template, left-truncated to fit."""
        if not messages:
            raise InputError("messages is empty; send at least one user message")
        ids = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )["input_ids"]
        limit = int(getattr(self.model.config, "max_position_embeddings", 2048) or 2048)
        keep = max(limit - max_new_tokens, 1)
        if ids.shape[1] > keep:  # the oldest context goes first
            ids = ids[:, -keep:]
        return ids.to(self.model.device)

    def stream(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> Iterator[str]:
        """Yield the reply piece by piece as the model writes it."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        stop = threading.Event()

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return stop.is_set()

        with self._lock:
            input_ids = self.prompt_ids(messages, max_new_tokens=max_new_tokens)
            streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
            kwargs: dict[str, Any] = {
                "input_ids": input_ids,
                "attention_mask": torch.ones_like(input_ids),
                "max_new_tokens": max_new_tokens,
                "streamer": streamer,
                "pad_token_id": self.tokenizer.pad_token_id,
                "stopping_criteria": StoppingCriteriaList([_Stop()]),
            }
            if self.temperature > 0:
                kwargs.update(do_sample=True, temperature=self.temperature)
            else:
                kwargs.update(do_sample=False)

            def _run() -> None:
                with torch.inference_mode():
                    self.model.generate(**kwargs)

            thread = threading.Thread(target=_run, daemon=True, name="dialogue-generate")
            thread.start()
            try:
                for piece in streamer:
                    if piece:
                        yield piece
            finally:
                stop.set()
                thread.join()

    def generate(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> str:
        """The whole reply at once."""
        return "".join(self.stream(messages, max_new_tokens=max_new_tokens))
