"""Continuous batching for the local dialogue backend: concurrent replies decode together.

Decoding one token reads every weight once, so on a CPU one stream leaves most of the
memory bandwidth's worth of arithmetic unused; ten streams in one batch cost little more
per step than one. One scheduler thread owns the model:

- a request is prefilled alone (so a bad prompt fails only its own request) and then
  joins the running batch at the next step: its KV cache and attention mask are
  left-padded to the batch's length and concatenated along the batch dimension;
- every step feeds each row's last token with its own position, samples the next token
  per row (with reply-only repetition control) and streams the new text to that
  request's queue;
- a row leaves the batch when it writes EOS, reaches its ``max_new_tokens`` or its
  deadline, when its consumer went away (a closed tab), or when the server shuts down;
  the columns no remaining row needs are cut off the cache.

An exception in a step is handed to every request it touched, and the thread carries on
with the next request: nothing can leave a caller waiting forever.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from infinstruct.core.errors import GenerationError
from infinstruct.dialogue.repetition import apply_reply_repetition

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Decoding:
    """How each next token is chosen (what ``settings.dialogue`` decides about a reply)."""

    temperature: float = 0.0  # 0 is greedy
    repetition_penalty: float = 1.0  # over the reply's own tokens only (repetition.py says why)
    no_repeat_ngram_size: int = 0


GREEDY = Decoding()

#: Put on a request's queue after its last piece.
END = object()
#: Put on the pending queue by ``close``: the thread finishes its batch, then exits.
_CLOSE = object()


@dataclass
class Request:
    """One reply being generated; the caller reads ``out`` until :data:`END` or an exception."""

    prompt: list[int]
    max_new_tokens: int
    deadline: float
    out: queue.Queue[Any] = field(default_factory=queue.Queue)
    cancelled: threading.Event = field(default_factory=threading.Event)
    generated: list[int] = field(default_factory=list)
    sent_chars: int = 0


@dataclass
class _Batch:
    """The running batch: rows, their attention mask (B, L), KV cache and next input token."""

    rows: list[Request]
    mask: Any
    cache: Any  # None while ``static``: the compiled decoder holds it
    next_tokens: Any  # (B, 1): sampled, not yet fed to the model
    static: bool = False  # one row decoding through the compiled step (compiled.py)


#: Schedulers whose thread may be running (for the exit hook below).
_RUNNING: weakref.WeakSet[BatchScheduler] = weakref.WeakSet()


@atexit.register
def _stop_schedulers_at_exit() -> None:
    """End running replies and join their threads before the interpreter finalises.

    A daemon thread still inside a torch kernel when Python tears down aborts the process
    ("terminate called without an active exception", exit 134): a CLI whose reply was
    rejected mid-stream would print its JSON and then crash.
    """
    schedulers = list(_RUNNING)
    for scheduler in schedulers:
        scheduler.shutdown.set()
        scheduler.close()
    for scheduler in schedulers:
        thread = scheduler._thread
        if thread is not None:
            thread.join(timeout=10)


class BatchScheduler:
    """Owns a model; ``submit`` a prompt, read its pieces from the returned request's queue."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        max_batch: int = 16,
        window_s: float = 0.005,
        decoding: Decoding = GREEDY,
        shutdown: threading.Event | None = None,
        compiled: Any = None,
    ) -> None:
        self.model = model
        #: A :class:`~infinstruct.dialogue.compiled.CompiledDecoder` for lone rows, or None.
        self.compiled = compiled
        self.tokenizer = tokenizer
        self.max_batch = max_batch
        self.window_s = window_s
        self.decoding = decoding
        self.shutdown = shutdown or threading.Event()
        self.eos_ids = _eos_ids(model, tokenizer)
        self._pending: queue.Queue[Any] = queue.Queue()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        #: Steps taken and the largest batch seen (for benchmarks and tests).
        self.steps = 0
        self.peak_batch = 0
        #: Rows decoding right now.
        self.active = 0

    def submit(self, prompt: list[int], *, max_new_tokens: int, deadline: float) -> Request:
        request = Request(prompt=prompt, max_new_tokens=max_new_tokens, deadline=deadline)
        with self._start_lock:
            self._pending.put(request)
            self._start_thread()
        return request

    def start(self) -> None:
        """Start the thread now (it compiles the decode step first, if there is one)."""
        with self._start_lock:
            self._start_thread()

    def _start_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, daemon=True, name="dialogue-batch")
            self._thread.start()
            _RUNNING.add(self)

    def close(self) -> None:
        """Let the running replies finish, then end the thread (a later submit restarts it)."""
        self._pending.put(_CLOSE)

    # -- the scheduler thread ----------------------------------------------------------
    def _loop(self) -> None:
        import torch

        batch: _Batch | None = None
        compiled = self.compiled
        if compiled is not None and not compiled.ready.is_set() and compiled.failed is None:
            # Here, not in a thread of its own: the compiled kernels' OpenMP team must be the
            # one the steps run on (a second thread's team measured 1.5-3x slower steps).
            compiled.warm_up()
        with torch.inference_mode():
            while True:
                fresh = self._take_pending(block=batch is None)
                for request in fresh:
                    batch = self._admit(batch, request, alone=len(fresh) == 1)
                if batch is None:
                    if self._closing and self._exit_if_idle():
                        return
                    continue
                try:
                    self._step(batch)
                except Exception as exc:  # every waiting request hears of it
                    log.exception("a batched decode step failed")
                    for row in batch.rows:
                        row.out.put(exc)
                    batch = None
                    self.active = 0
                    continue
                batch = self._retire(batch)
                self.active = len(batch.rows) if batch else 0

    def _exit_if_idle(self) -> bool:
        with self._start_lock:  # a submit either lands before this check or starts a new thread
            if not self._pending.empty():
                return False
            self._closing, self._thread = False, None
            return True

    def _take_pending(self, *, block: bool) -> list[Request]:
        """New requests: with an idle model, wait for one, then ``window_s`` for company."""
        items: list[Any] = []
        if block:
            items.append(self._pending.get())
            time.sleep(self.window_s)  # requests that arrive together decode together
        while True:
            try:
                items.append(self._pending.get_nowait())
            except queue.Empty:
                break
        self._closing = self._closing or any(item is _CLOSE for item in items)
        return [item for item in items if item is not _CLOSE]

    def _admit(self, batch: _Batch | None, request: Request, *, alone: bool = False) -> _Batch | None:
        """Prefill ``request`` alone and merge it into ``batch`` (or refuse it, if it is late)."""
        import torch
        from transformers import DynamicCache

        if request.cancelled.is_set() or self.shutdown.is_set():
            request.out.put(END)
            return batch
        if time.monotonic() > request.deadline:
            request.out.put(
                GenerationError("no batch row freed up before the reply's deadline; ask again later")
            )
            return batch
        if batch is not None and len(batch.rows) >= self.max_batch:
            self._pending.put(request)  # waits for a free row (its deadline still counts)
            return batch
        # Alone (no running batch, nobody waiting): the compiled single-stream step, if on.
        static = (
            alone
            and batch is None
            and self._pending.empty()
            and self.compiled is not None
            and self.compiled.fits(len(request.prompt), request.max_new_tokens)
        )
        try:
            ids = torch.tensor([request.prompt], dtype=torch.long, device=self.model.device)
            cache = None if static else DynamicCache()
            if static:
                logits = self.compiled.prefill(ids)
            else:
                logits = self.model(input_ids=ids, cache=cache, use_cache=True).logits[:, -1, :]
            token = self._choose(logits, [request])
        except Exception as exc:  # noqa: BLE001  # this request's own failure, the batch goes on
            log.warning("prefill failed: %s: %s", type(exc).__name__, exc)
            request.out.put(exc)
            return batch
        joined = _Batch([request], torch.ones_like(ids), cache, token, static=static)
        if not self._emit(request, int(token[0, 0])):
            request.out.put(END)
            return batch
        if batch is not None and batch.static:  # a second row: back to the dynamic cache
            batch.cache, batch.static = self.compiled.to_dynamic(batch.mask.shape[1]), False
        merged = joined if batch is None else _merge(batch, joined)
        self.peak_batch = max(self.peak_batch, len(merged.rows))
        return merged

    def _step(self, batch: _Batch) -> None:
        import torch

        mask = torch.cat([batch.mask, torch.ones_like(batch.next_tokens)], dim=1)
        if batch.static:  # one row, no padding: its position is the tokens before it
            logits = self.compiled.step(batch.next_tokens, batch.mask.shape[1])
            batch.mask = mask
            batch.next_tokens = self._choose(logits, batch.rows)
            self.steps += 1
            return
        positions = (mask.sum(dim=1, keepdim=True) - 1).clamp(min=0)
        out = self.model(
            input_ids=batch.next_tokens,
            attention_mask=mask,
            position_ids=positions,
            cache=batch.cache,
            use_cache=True,
        )
        batch.mask = mask
        batch.next_tokens = self._choose(out.logits[:, -1, :], batch.rows)
        self.steps += 1

    def _retire(self, batch: _Batch) -> _Batch | None:
        """Stream each row's new token; rows that are done leave the batch."""
        keep = [n for n, row in enumerate(batch.rows) if self._emit(row, int(batch.next_tokens[n, 0]))]
        for n, row in enumerate(batch.rows):
            if n not in keep:
                row.out.put(END)
        if not keep:
            return None
        if len(keep) < len(batch.rows):
            batch = _select(batch, keep)
        return batch

    def _emit(self, row: Request, token: int) -> bool:
        """Record ``token`` for ``row`` and stream its text; False once the row is done."""
        if token in self.eos_ids:
            return False
        row.generated.append(token)
        text = self.tokenizer.decode(row.generated, skip_special_tokens=True)
        # A multi-byte character (Chinese) can span tokens: hold back a trailing half.
        if not text.endswith("\ufffd") and len(text) > row.sent_chars:
            row.out.put(text[row.sent_chars :])
            row.sent_chars = len(text)
        return not (
            len(row.generated) >= row.max_new_tokens
            or row.cancelled.is_set()
            or self.shutdown.is_set()
            or time.monotonic() > row.deadline
        )

    def _choose(self, logits: Any, rows: list[Request]) -> Any:
        """The next token of each row: greedy, or sampled at ``temperature``."""
        import torch

        logits = logits.float()
        for n, row in enumerate(rows):
            if row.generated:
                reply = torch.tensor([row.generated], device=logits.device)
                apply_reply_repetition(
                    reply,
                    logits[n : n + 1],
                    penalty=self.decoding.repetition_penalty,
                    ngram_size=self.decoding.no_repeat_ngram_size,
                )
        if self.decoding.temperature > 0:
            probs = torch.softmax(logits / self.decoding.temperature, dim=-1)
            return torch.multinomial(probs, 1)
        return logits.argmax(dim=-1, keepdim=True)


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    for source in (getattr(model, "generation_config", None), tokenizer):
        value = getattr(source, "eos_token_id", None)
        if isinstance(value, int):
            ids.add(value)
        elif isinstance(value, list | tuple):
            ids.update(int(v) for v in value)
    return ids


def _layers(cache: Any) -> list[Any]:
    return list(cache.layers)


def _merge(a: _Batch, b: _Batch) -> _Batch:
    """One batch of both: masks and caches left-padded to the longer length, then stacked."""
    import torch
    import torch.nn.functional as F  # the usual name

    length = max(a.mask.shape[1], b.mask.shape[1])

    def pad(t: Any, dim_from_end: int) -> Any:
        missing = length - t.shape[-dim_from_end]
        if missing == 0:
            return t
        spec = [0, 0] * (dim_from_end - 1) + [missing, 0]
        return F.pad(t, spec)

    for la, lb in zip(_layers(a.cache), _layers(b.cache), strict=True):
        la.keys = torch.cat([pad(la.keys, 2), pad(lb.keys, 2)], dim=0)
        la.values = torch.cat([pad(la.values, 2), pad(lb.values, 2)], dim=0)
    mask = torch.cat([pad(a.mask, 1), pad(b.mask, 1)], dim=0)
    tokens = torch.cat([a.next_tokens, b.next_tokens], dim=0)
    return _Batch(a.rows + b.rows, mask, a.cache, tokens)


def _select(batch: _Batch, keep: list[int]) -> _Batch:
    """The rows ``keep``, with the leading columns that none of them uses cut off."""
    import torch

    index = torch.tensor(keep, device=batch.mask.device)
    mask = batch.mask.index_select(0, index)
    used = mask.any(dim=0).nonzero()
    start = int(used[0]) if len(used) else 0
    mask = mask[:, start:]
    for layer in _layers(batch.cache):
        layer.keys = layer.keys.index_select(0, index)[:, :, start:, :]
        layer.values = layer.values.index_select(0, index)[:, :, start:, :]
    return _Batch([batch.rows[n] for n in keep], mask, batch.cache, batch.next_tokens.index_select(0, index))
