"""Dialogue models: SmolLM2 from its GGUF, any causal LM by folder or hub id, and the
local streaming backend the chat serves (``LocalDialogueBackend``).

Shared by ``finetune`` (training loads bases through :func:`load_causal_lm`) and the chat.
Heavy libraries (torch, transformers, peft) are imported inside the functions.
"""

from infinstruct.dialogue.backend import LocalDialogueBackend
from infinstruct.dialogue.convert import smollm2_hf_folder
from infinstruct.dialogue.loading import (
    is_adapter_folder,
    load_causal_lm,
    load_version,
    resolve_base,
)

__all__ = [
    "LocalDialogueBackend",
    "is_adapter_folder",
    "load_causal_lm",
    "load_version",
    "resolve_base",
    "smollm2_hf_folder",
]
