"""The local dialogue backend: a transformers causal LM (+ adapter) streaming its reply.

One model instance serves every thread of the server through a :class:`BatchScheduler`:
concurrent replies decode together in one batch. No reply can wedge it: an exception in
the model is handed to the waiting request (the API answers 500) and the scheduler goes
on; every reply has a wall-clock limit (``dialogue.generation_timeout_s``); a consumer
that stops reading (a closed browser tab) frees its row at the next step; and
:func:`stop_all_generation` (called when the server shuts down) ends every running reply
at its next token.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from infinstruct.core.errors import GenerationError, InputError
from infinstruct.core.settings import DialogueSettings, Settings
from infinstruct.core.tables import ModelVersion
from infinstruct.dialogue.batching import END, GREEDY, BatchScheduler, Decoding
from infinstruct.dialogue.compiled import CompiledDecoder
from infinstruct.dialogue.loading import NO_FORMATS, ArtefactFormats, load_causal_lm, load_version

log = logging.getLogger(__name__)

#: Set once the process is shutting down: running replies end, new ones are refused.
_SHUTDOWN = threading.Event()


def stop_all_generation() -> None:
    """End every running reply at its next token and refuse new ones (server shutdown)."""
    _SHUTDOWN.set()


def serving_dtype(setting: str, device: str = "auto") -> str:
    """``dialogue.dtype`` resolved: 'auto' is bfloat16 where the hardware computes it natively
    (a bf16 GPU, or a CPU with AVX512-BF16/AMX), else float32. bench/chat/serving.py measured
    bf16 decoding faster than fp32 here with the reply loss unchanged (int8 was rejected)."""
    if setting != "auto":
        return setting
    from infinstruct.core.devices import native_bf16, resolve_device

    resolved = resolve_device(device)
    if resolved.startswith("cuda"):
        return "auto"  # resolve_dtype picks bf16 on GPUs that support it
    return "bfloat16" if native_bf16(resolved) else "float32"


def generation_options(cfg: DialogueSettings) -> dict[str, Any]:
    """The backend keyword arguments that ``settings.dialogue`` decides."""
    return {
        "decoding": Decoding(cfg.temperature, cfg.repetition_penalty, cfg.no_repeat_ngram_size),
        "timeout_s": cfg.generation_timeout_s,
        "max_batch": cfg.max_batch,
        "batch_window_s": cfg.batch_window_ms / 1000.0,
        "compile_decode": cfg.compile_decode,
        "compile_max_len": cfg.compile_max_len,
        "compile_threads": cfg.compile_threads,
    }


class LocalDialogueBackend:
    """Implements ``infinstruct.core.protocols.DialogueBackend`` with a local model."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        version: str = "base",
        decoding: Decoding = GREEDY,
        timeout_s: float = 120.0,
        max_batch: int = 16,
        batch_window_s: float = 0.005,
        compile_decode: bool = False,
        compile_max_len: int = 1024,
        compile_threads: int = 1,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.version = version
        self.decoding = decoding
        self.timeout_s = timeout_s
        self.max_batch = max_batch
        self.batch_window_s = batch_window_s
        self._scheduler: BatchScheduler | None = None
        #: The compiled single-stream decode step (``dialogue.compile_decode``): the scheduler
        #: thread starts now and compiles it before serving (replies queue meanwhile).
        self.compiled: CompiledDecoder | None = None
        if compile_decode:
            self.compiled = CompiledDecoder(model, max_len=compile_max_len, threads=compile_threads)
            self.scheduler.start()

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
        dtype = serving_dtype(settings.dialogue.dtype, device)
        model, tokenizer = load_causal_lm(settings, name, adapter_path, device=device, dtype=dtype)
        return cls(model, tokenizer, version=version or name, **generation_options(settings.dialogue))

    @classmethod
    def from_version(
        cls,
        settings: Settings,
        version: ModelVersion | str,
        *,
        device: str = "auto",
        formats: ArtefactFormats = NO_FORMATS,
    ) -> LocalDialogueBackend:
        """A registered model version (base + peft adapter, a part's format, or a full model)."""
        if isinstance(version, str):
            from infinstruct.core.registry import get_version

            version = get_version(settings, version)
        if version.kind != "dialogue":
            raise InputError(f"{version.name} is a {version.kind} model, not a dialogue model")
        dtype = serving_dtype(settings.dialogue.dtype, device)
        model, tokenizer = load_version(settings, version, device=device, dtype=dtype, formats=formats)
        return cls(model, tokenizer, version=version.name, **generation_options(settings.dialogue))

    # -- generation --------------------------------------------------------------------
    @property
    def scheduler(self) -> BatchScheduler:
        """The batching scheduler that owns the model (started on first use)."""
        if self._scheduler is None:
            self._scheduler = BatchScheduler(
                self.model,
                self.tokenizer,
                max_batch=self.max_batch,
                window_s=self.batch_window_s,
                decoding=self.decoding,
                shutdown=_SHUTDOWN,
                compiled=self.compiled,
            )
        return self._scheduler

    def prompt_ids(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> list[int]:
        """Token ids of ``messages`` under the model's chat template, left-truncated to fit."""
        if not messages:
            raise InputError("messages is empty; send at least one user message")
        ids = list(
            self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_dict=True)[
                "input_ids"
            ]
        )
        limit = int(getattr(self.model.config, "max_position_embeddings", 2048) or 2048)
        keep = max(limit - max_new_tokens, 1)
        return ids[-keep:]  # the oldest context goes first

    def stream(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> Iterator[str]:
        """Yield the reply piece by piece as the model writes it (in a batch with others).

        Raises :class:`GenerationError` when generation fails, when no row frees up within
        the wall-clock limit, or when the server is shutting down.
        """
        if not isinstance(max_new_tokens, int) or isinstance(max_new_tokens, bool) or max_new_tokens < 1:
            raise InputError(f"max_new_tokens must be a whole number ≥ 1 (got {max_new_tokens!r})")
        if _SHUTDOWN.is_set():
            raise GenerationError("the server is shutting down; ask again in a moment")
        deadline = time.monotonic() + self.timeout_s
        prompt = self.prompt_ids(messages, max_new_tokens=max_new_tokens)
        request = self.scheduler.submit(prompt, max_new_tokens=max_new_tokens, deadline=deadline)
        try:
            while True:
                # The scheduler ends every row by its deadline; the extra margin only guards
                # against a scheduler thread that died, so a caller can never wait forever.
                wait = max(deadline - time.monotonic(), 0.0) + 30.0
                try:
                    item = request.out.get(timeout=wait)
                except queue.Empty:
                    raise GenerationError(f"no reply within {self.timeout_s:g} s; abandoned it") from None
                if item is END:
                    return
                if isinstance(item, GenerationError):
                    raise item
                if isinstance(item, BaseException):
                    log.error("generation failed: %s: %s", type(item).__name__, item)
                    raise GenerationError(f"generation failed: {type(item).__name__}: {item}") from item
                yield item
        finally:
            request.cancelled.set()  # a consumer that went away frees its row at the next step

    def close(self) -> None:
        """Running replies finish; then the scheduler thread ends and lets go of the model."""
        if self._scheduler is not None:
            self._scheduler.close()

    def generate(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> str:
        """The whole reply at once."""
        return "".join(self.stream(messages, max_new_tokens=max_new_tokens))
