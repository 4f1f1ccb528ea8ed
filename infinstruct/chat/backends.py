"""Dialogue backends for the chat, and hot switching to a newly activated model version.

``ModelProvider`` asks the registry for the active dialogue version at most every
``chat.model_poll_s`` seconds (a cheap query); when it changed, the next generating answer
loads the new version (base + adapter) and every answer reports the new name. No restart,
and an answer that started on the old model finishes on it.

Loaded backends live in a :class:`DialoguePool` that the ``ModelProvider`` holds (no
process-wide pool): at most ``dialogue.max_loaded_models`` models (least recently used goes
first, after its running replies finish). The console's Try tab gets any registered version
from the chat's own pool (``services.build_trial`` passes ``chat_router.models.pool``, or
:func:`backend_for_version`), so it shares the loaded model and its batching backend.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from typing import Any

from infinstruct.core.errors import ModelLoadError
from infinstruct.core.protocols import DialogueBackend
from infinstruct.core.settings import Settings
from infinstruct.core.tables import ModelVersion
from infinstruct.dialogue.loading import NO_FORMATS, ArtefactFormats

log = logging.getLogger(__name__)

BackendFactory = Callable[[Settings, ModelVersion | None], DialogueBackend]


class OpenAIBackend:
    """Any OpenAI-compatible server (vLLM, llama.cpp, another infinstruct) by URL."""

    def __init__(
        self,
        base_url: str,
        *,
        model: str,
        api_key: str = "",
        temperature: float = 0.0,
        timeout_s: float = 120.0,
    ) -> None:
        from openai import OpenAI

        self.version = f"openai:{model}"
        self.model = model
        self.temperature = temperature
        # The client insists on a key; local servers accept any placeholder.
        self._client = OpenAI(base_url=base_url, api_key=api_key or "none", timeout=timeout_s, max_retries=1)

    def stream(self, messages: list[dict[str, str]], *, max_new_tokens: int) -> Iterator[str]:
        from openai import OpenAIError

        try:
            chunks: Any = self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]  # plain dicts are valid
                max_tokens=max_new_tokens,
                temperature=self.temperature,
                stream=True,
            )
            for chunk in chunks:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except OpenAIError as exc:
            raise ModelLoadError(
                f"the OpenAI-compatible server at {self._client.base_url} failed: {exc}; "
                "check dialogue.openai_url and that the server is running"
            ) from exc


def default_factory(
    settings: Settings, version: ModelVersion | None, *, formats: ArtefactFormats = NO_FORMATS
) -> DialogueBackend:
    """The backend ``settings.dialogue`` asks for, serving ``version`` (or the base model);
    a local version saved in a part's format loads with ``formats``."""
    cfg = settings.dialogue
    if cfg.backend == "openai":
        if not cfg.openai_url:
            raise ModelLoadError(
                "dialogue.backend is 'openai' but dialogue.openai_url is unset; set it "
                "to the server's base URL, e.g. http://localhost:8000/v1"
            )
        return OpenAIBackend(
            cfg.openai_url,
            model=cfg.openai_model,
            api_key=cfg.openai_api_key.get_secret_value(),
            temperature=cfg.temperature,
        )
    from infinstruct.dialogue import LocalDialogueBackend

    if version is None:
        return LocalDialogueBackend.load(settings)
    return LocalDialogueBackend.from_version(settings, version, formats=formats)


def factory_with(formats: ArtefactFormats) -> BackendFactory:
    """``default_factory`` that also loads versions in ``formats`` (the composition root's
    ``services.model_formats``). Build it once and share it: loaded backends are pooled per
    factory, so the chat and the console's Try tab must use the same one."""

    def build(settings: Settings, version: ModelVersion | None) -> DialogueBackend:
        return default_factory(settings, version, formats=formats)

    return build


class DialoguePool:
    """Loaded dialogue backends, at most ``capacity``; the least recently used is closed."""

    def __init__(self, capacity: int = 2) -> None:
        self.capacity = capacity
        self._lock = threading.Lock()
        self._loaded: OrderedDict[tuple[Any, ...], tuple[Any, DialogueBackend]] = OrderedDict()
        self._loading: dict[tuple[Any, ...], threading.Event] = {}

    def get(
        self, key: tuple[Any, ...], load: Callable[[], DialogueBackend], *, keep: Any = None
    ) -> DialogueBackend:
        """The backend under ``key``, loading it with ``load`` (and evicting) when absent.

        ``keep`` is held with the entry (the settings whose ``id`` is part of the key). A
        load runs outside the lock: answers on loaded models go on while a new one loads."""
        while True:
            with self._lock:
                if key in self._loaded:
                    self._loaded.move_to_end(key)
                    return self._loaded[key][1]
                waiting = self._loading.get(key)
                if waiting is None:
                    self._loading[key] = threading.Event()
                    # room first, so the new model never joins `capacity` others in memory
                    evicted: list[DialogueBackend] = []
                    while self._loaded and len(self._loaded) + len(self._loading) > self.capacity:
                        evicted.append(self._loaded.popitem(last=False)[1][1])
                    break
            waiting.wait()  # another thread loads the same model; then look again
        for old in evicted:
            log.info("dialogue backend %s unloaded (at most %d loaded)", old.version, self.capacity)
            close = getattr(old, "close", None)
            if close is not None:
                close()  # its running replies finish first
        try:
            started = time.monotonic()
            backend = load()
            log.info("dialogue backend %s loaded in %.1fs", backend.version, time.monotonic() - started)
            with self._lock:
                self._loaded[key] = (keep, backend)
        finally:
            with self._lock:
                self._loading.pop(key).set()
        return backend

    def loaded(self) -> list[str]:
        """Versions of the loaded backends, least recently used first."""
        with self._lock:
            return [backend.version for _, backend in self._loaded.values()]


def backend_for_version(
    settings: Settings, name: str | None, *, pool: DialoguePool, factory: BackendFactory = default_factory
) -> DialogueBackend:
    """A backend serving registered dialogue version ``name`` (None: the base model).

    The Try tab's way in: given the chat's ``pool`` (``ModelProvider.pool``), the same loaded
    model as the chat's active version, with the same batching backend."""
    from infinstruct.core.registry import get_version

    version = get_version(settings, name) if name is not None else None
    if version is not None and version.kind != "dialogue":
        from infinstruct.core.errors import InputError

        raise InputError(f"{version.name} is a {version.kind} model, not a dialogue model")
    key = _pool_key(settings, factory, version)
    return pool.get(key, lambda: factory(settings, version), keep=settings)


def _pool_key(settings: Settings, factory: BackendFactory, version: ModelVersion | None) -> tuple[Any, ...]:
    name = version.name if version is not None else settings.dialogue.base_model
    return (id(settings), factory, settings.dialogue.backend, name)


class ModelProvider:
    """The active dialogue version's name, its backend (loaded on first use) and version row."""

    def __init__(
        self,
        settings: Settings,
        *,
        factory: BackendFactory = default_factory,
        pool: DialoguePool | None = None,
    ) -> None:
        self.settings = settings
        self.factory = factory
        #: The loaded backends: its own unless a pool is shared (the Try tab shares the chat's).
        self.pool = pool if pool is not None else DialoguePool(settings.dialogue.max_loaded_models)
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._version: ModelVersion | None = None

    def _name_of(self, version: ModelVersion | None) -> str:
        if self.settings.dialogue.backend == "openai":
            return f"openai:{self.settings.dialogue.openai_model}"
        return version.name if version is not None else self.settings.dialogue.base_model

    def refresh(self, *, force: bool = False) -> ModelVersion | None:
        """Re-read the active version when ``model_poll_s`` has passed (or ``force``)."""
        from infinstruct.core.registry import active_version

        now = time.monotonic()
        with self._lock:
            if force or now - self._checked >= self.settings.chat.model_poll_s:
                found = active_version(self.settings, "dialogue")
                if (found.id if found else None) != (self._version.id if self._version else None):
                    log.info("active dialogue model is now %s", self._name_of(found))
                self._version, self._checked = found, now
            return self._version

    @property
    def version(self) -> ModelVersion | None:
        return self.refresh()

    @property
    def name(self) -> str:
        return self._name_of(self.refresh())

    def backend(self) -> tuple[DialogueBackend, str]:
        """The backend of the active version (loaded now if the version changed) and its name."""
        version = self.refresh()
        name = self._name_of(version)
        key = _pool_key(self.settings, self.factory, version)
        backend = self.pool.get(key, lambda: self.factory(self.settings, version), keep=self.settings)
        return backend, name
