"""A compiled single-stream decode step: a static KV cache and ``torch.compile`` (inductor).

Decoding one stream on this CPU is not limited by reading the weights but by the eager
kernels: a profile of an eager bf16 step shows ~83 % of it in ``aten::mm`` (a one-row
matmul per weight, ~6.7 GB/s). Inductor with *freezing* treats the weights as constants,
max-autotune benchmarks its own C++ GEMM templates against oneDNN per matmul shape, and the
small element-wise ops between the matmuls are fused; that needs fixed shapes, hence a
:class:`transformers.StaticCache` of ``max_len`` positions. Measured (bare loop, 2 threads,
load ~2): 35.5 ms a bf16 token eager, 16.8 ms compiled, the same greedy tokens on that
prompt (bf16 rounds differently in the compiled kernels: on other prompts a token can differ).

Only a batch of one row uses it (a second request turns the static cache into the usual
dynamic one, see :meth:`CompiledDecoder.to_dynamic`), so the batched path is unchanged.
Compiling takes one to two minutes (less with inductor's on-disk cache warm);
the scheduler thread runs :meth:`warm_up` when it starts, before serving; if compiling
fails, every reply decodes eagerly.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from infinstruct.dialogue.threads import this_thread_threads

log = logging.getLogger(__name__)


class CompiledDecoder:
    """A static cache of ``max_len`` positions plus a compiled one-token forward over it."""

    def __init__(self, model: Any, *, max_len: int = 1024, threads: int = 1) -> None:
        import torch
        from transformers import StaticCache

        self.model = model
        self.max_len = max_len
        #: OpenMP threads of the compiled kernels and of each step (threads.py says why 1).
        self.threads = threads
        self.ready = threading.Event()
        self.failed: BaseException | None = None
        self.compile_s: float | None = None
        self._cache_type = StaticCache
        self.cache: Any = None
        #: Decode steps taken through the compiled graph (tests and benchmarks read it).
        self.steps = 0

        def one_token(token: Any, position: Any, cache: Any) -> Any:
            return model(input_ids=token, position_ids=position, cache=cache, use_cache=True).logits[:, -1, :]

        # What mode "max-autotune-no-cudagraphs" sets, plus freezing (weights become graph
        # constants, packed once). Autotuning picks inductor's own C++ micro-GEMMs over
        # oneDNN for these one-row matmuls: 16.8 vs 26.9 ms a bf16 token without it.
        # (freezing is set around the compiling calls in warm_up: torch.compile takes a mode or
        # options, not both, and options alone measured 2-4x slower steps than this.)
        self._step = torch.compile(one_token, fullgraph=True, mode="max-autotune-no-cudagraphs")

    def fits(self, prompt_len: int, max_new_tokens: int) -> bool:
        """Whether a reply of this size stays inside the static cache."""
        return self.ready.is_set() and prompt_len + max_new_tokens <= self.max_len

    def prefill(self, ids: Any) -> Any:
        """Run the prompt (eagerly: its length varies) into a fresh static cache; last logits."""
        if self.cache is None:
            self.cache = self._cache_type(config=self.model.config, max_cache_len=self.max_len)
        else:
            self.cache.reset()  # same tensors, so the compiled graph's addresses stay valid
        return self.model(input_ids=ids, cache=self.cache, use_cache=True).logits[:, -1, :]

    def step(self, token: Any, position: int) -> Any:
        """Logits after feeding ``token`` (shape (1, 1)) at ``position``."""
        import torch

        self.steps += 1
        with this_thread_threads(self.threads):  # what is not inductor's own kernel reads it
            return self._step(token, torch.tensor([[position]], device=token.device), self.cache)

    def to_dynamic(self, length: int) -> Any:
        """A :class:`DynamicCache` holding the first ``length`` positions (a second row joins)."""
        from transformers import DynamicCache

        dynamic = DynamicCache()
        for index, layer in enumerate(self.cache.layers):
            keys = layer.keys[:, :, :length, :].clone()
            values = layer.values[:, :, :length, :].clone()
            dynamic.update(keys, values, index)
        return dynamic

    def warm_up(self) -> None:
        """Compile (a few decode steps on a dummy prompt); sets ``ready`` or ``failed``."""
        import torch

        started = time.perf_counter()
        try:
            # inductor writes the thread count into its kernels: build them for ``threads``
            config = {"freezing": True, "cpp.threads": self.threads}
            with torch.inference_mode(), torch._inductor.config.patch(config):
                ids = torch.ones((1, 4), dtype=torch.long, device=self.model.device)
                token = self.prefill(ids).argmax(dim=-1, keepdim=True)
                for position in range(4, 7):  # the first calls compile, the next reuse it
                    token = self.step(token, position).argmax(dim=-1, keepdim=True)
        except Exception as exc:  # noqa: BLE001  # the eager path serves on; say why
            self.failed = exc
            log.warning("compiled decoding unavailable, decoding eagerly: %s: %s", type(exc).__name__, exc)
            return
        self.compile_s = time.perf_counter() - started
        log.info("compiled decode step ready in %.1f s", self.compile_s)
        self.ready.set()
