"""One home for cleaning untrusted text before it reaches a chat template.

Passages, conversation history and grounding examples come from corpora and customers. A
chat-template control token inside them (``<|im_end|>\\n<|im_start|>system``) survives
``apply_chat_template`` verbatim and opens a turn the model obeys, so every untrusted text
passes through :func:`strip_control_tokens` first. Our own per-request delimiters are removed
too: a passage must not be able to close the data block it sits in.
"""

from __future__ import annotations

import re

#: Special tokens of the chat templates in use: ChatML and SmolLM/Qwen (``<|im_start|>``),
#: Llama 3 (``<|eot_id|>``), DeepSeek (full-width bars ``<｜…｜>``), Llama 2 / Mistral
#: (``<s>``, ``[INST]``, ``<<SYS>>``), Gemma (``<start_of_turn>``) and tokenizer fillers.
_CONTROL_TOKENS = re.compile(
    r"<\s*[|｜][^<>\n]{0,40}?[|｜]\s*>"
    r"|</?\s*s\s*>"
    r"|\[/?INST\]"
    r"|<</?SYS>>"
    r"|<(?:start|end)_of_turn>"
    r"|<(?:unk|pad|mask|bos|eos|cls|sep)>",
    re.IGNORECASE,
)
#: Anything shaped like our own data-block delimiters (``<<<DATA tag>>>``).
_DELIMITER_LIKE = re.compile(r"<<<|>>>")


def strip_control_tokens(text: str) -> str:
    """``text`` without chat-template control tokens or delimiter-like runs."""
    previous = None
    # Repeat until stable: removing one token must not splice the halves into another.
    while previous != text:
        previous = text
        text = _DELIMITER_LIKE.sub(" ", _CONTROL_TOKENS.sub(" ", text))
    return text
