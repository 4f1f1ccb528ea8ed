"""The local dialogue backend: a transformers causal LM (+ adapter) streaming its reply.

One model instance is shared by the server's threads, so generation is serialised with a
lock. No reply can wedge it: an exception inside ``generate`` (which runs in its own thread
so the reply can stream) is handed to the waiting request and the lock is released; every
reply has a wall-clock limit (``dialogue.generation_timeout_s``); a consumer that stops
reading early (a closed browser tab) stops the generation thread through a stopping
criterion; and :func:`stop_all_generation` (called when the server shuts down) ends every
running reply at its next token.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infinstruct.platform.dialogue.loading import load_causal_lm, load_version
from infinstruct.platform.dialogue.repetition import reply_repetition_processor
from infinstruct.platform.errors import GenerationError, InputError
from infinstruct.platform.settings import DialogueSettings, Settings
from infinstruct.platform.tables import ModelVersion

log = logging.getLogger(__name__)

#: Set once the process is shutting down: running replies end, new ones are refused.
_SHUTDOWN = threading.Event()


def stop_all_generation() -> None:
    """End every running reply at its next token and refuse new ones (server shutdown)."""
    _SHUTDOWN.set()


def generation_options(cfg: DialogueSettings) -> dict[str, Any]:
    """The backend keyword arguments that ``settings.dialogue`` decides."""
    return {
        "temperature": cfg.temperature,
        "repetition_penalty": cfg.repetition_penalty,
        "no_repeat_ngram_size": cfg.no_repeat_ngram_size,
        "timeout_s": cfg.generation_timeout_s,
    }


class LocalDialogueBackend:
    """Implements ``infinstruct.platform.protocols.DialogueBackend`` with a local model."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        version: str = "base",
        temperature: float = 0.0,
        repetition_penalty: float = 1.0,
        no_repeat_ngram_size: int = 0,
        timeout_s: float = 120.0,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.version = version
        self.temperature = temperature
        self.repetition_penalty = repetition_penalty
        self.no_repeat_ngram_size = no_repeat_ngram_size
        self.timeout_s = timeout_s
        #: Extra keyword arguments for ``generate`` (tests use it to make generate fail).
        self.generate_kwargs: dict[str, Any] = {}
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
        return cls(model, tokenizer, version=version or name, **generation_options(settings.dialogue))

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
        return cls(model, tokenizer, version=version.name, **generation_options(settings.dialogue))

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
        """Yield the reply piece by piece as the model writes it.

        Raises :class:`GenerationError` when generation fails, when no slot frees up within
        the wall-clock limit, or when the server is shutting down.
        """
        if not isinstance(max_new_tokens, int) or max_new_tokens < 1:
            raise InputError(f"max_new_tokens must be a whole number ≥ 1 (got {max_new_tokens!r})")
        if _SHUTDOWN.is_set():
            raise GenerationError("the server is shutting down; ask again in a moment")
        deadline = time.monotonic() + self.timeout_s
        if not self._lock.acquire(timeout=self.timeout_s):
            raise GenerationError(
                f"no generation slot freed up within {self.timeout_s:g} s "
                "(dialogue.generation_timeout_s); the server is overloaded, ask again later"
            )
        try:
            yield from self._stream_locked(messages, max_new_tokens, deadline)
        finally:
            self._lock.release()

    def _generate_kwargs(self, input_ids: Any, max_new_tokens: int, stop: Any) -> dict[str, Any]:
        import torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        processor = reply_repetition_processor(
            input_ids.shape[1], penalty=self.repetition_penalty, ngram_size=self.no_repeat_ngram_size
        )
        kwargs: dict[str, Any] = {
            "input_ids": input_ids,
            "attention_mask": torch.ones_like(input_ids),
            "max_new_tokens": max_new_tokens,
            "pad_token_id": self.tokenizer.pad_token_id,
            "stopping_criteria": StoppingCriteriaList([stop]),
            "logits_processor": LogitsProcessorList([processor] if processor else []),
        }
        if self.temperature > 0:
            kwargs.update(do_sample=True, temperature=self.temperature)
        else:
            kwargs.update(do_sample=False)
        return {**kwargs, **self.generate_kwargs}

    def _stream_locked(
        self, messages: list[dict[str, str]], max_new_tokens: int, deadline: float
    ) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, TextIteratorStreamer

        consumer_gone = threading.Event()

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return consumer_gone.is_set() or _SHUTDOWN.is_set() or time.monotonic() > deadline

        input_ids = self.prompt_ids(messages, max_new_tokens=max_new_tokens)
        # The queue wait has its own timeout: even a generate that hangs without raising
        # cannot hold the request (and the lock) past the deadline.
        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=self.timeout_s + 5.0
        )
        kwargs = {**self._generate_kwargs(input_ids, max_new_tokens, _Stop()), "streamer": streamer}
        failure: list[BaseException] = []

        def _run() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**kwargs)
            except BaseException as exc:  # noqa: BLE001  # handed to the waiting request, never lost
                failure.append(exc)
                streamer.end()  # wakes the consumer; generate never got to end the stream

        thread = threading.Thread(target=_run, daemon=True, name="dialogue-generate")
        thread.start()
        try:
            for piece in streamer:
                if piece:
                    yield piece
        except queue.Empty:
            raise GenerationError(
                f"generation produced nothing for {self.timeout_s + 5.0:g} s; abandoned it"
            ) from None
        finally:
            consumer_gone.set()
            thread.join(timeout=max(deadline - time.monotonic(), 0.0) + 5.0)
        if failure:
            exc = failure[0]
            log.error("generation failed: %s: %s", type(exc).__name__, exc)
            raise GenerationError(f"generation failed: {type(exc).__name__}: {exc}") from exc

    def generate(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> str:
        """The whole reply at once."""
        return "".join(self.stream(messages, max_new_tokens=max_new_tokens))
