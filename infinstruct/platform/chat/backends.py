"""Dialogue backends for the chat, and hot switching to a newly activated model version.

``ModelProvider`` asks the registry for the active dialogue version at most every
``chat.model_poll_s`` seconds (a cheap query); when it changed, the next generating answer
loads the new version (base + adapter) and every answer reports the new name. No restart,
and an answer that started on the old model finishes on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from infinstruct.platform.errors import ModelLoadError
from infinstruct.platform.protocols import DialogueBackend
from infinstruct.platform.settings import Settings
from infinstruct.platform.tables import ModelVersion

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


def default_factory(settings: Settings, version: ModelVersion | None) -> DialogueBackend:
    """The backend ``settings.dialogue`` asks for, serving ``version`` (or the base model)."""
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
    from infinstruct.platform.dialogue import LocalDialogueBackend

    if version is None:
        return LocalDialogueBackend.load(settings)
    return LocalDialogueBackend.from_version(settings, version)


class ModelProvider:
    """The active dialogue version's name, its backend (loaded on first use) and version row."""

    def __init__(self, settings: Settings, *, factory: BackendFactory = default_factory) -> None:
        self.settings = settings
        self.factory = factory
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._version: ModelVersion | None = None
        self._backend: DialogueBackend | None = None
        self._backend_for: str | None = None

    def _name_of(self, version: ModelVersion | None) -> str:
        if self.settings.dialogue.backend == "openai":
            return f"openai:{self.settings.dialogue.openai_model}"
        return version.name if version is not None else self.settings.dialogue.base_model

    def refresh(self, *, force: bool = False) -> ModelVersion | None:
        """Re-read the active version when ``model_poll_s`` has passed (or ``force``)."""
        from infinstruct.platform.registry import active_version

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
        with self._lock:
            if self._backend is None or self._backend_for != name:
                started = time.monotonic()
                backend = self.factory(self.settings, version)
                self._backend, self._backend_for = backend, name
                log.info("dialogue backend %s loaded in %.1fs", name, time.monotonic() - started)
            return self._backend, name
