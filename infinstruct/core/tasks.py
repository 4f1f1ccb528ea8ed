"""The instruction-task vocabulary the builder writes and chat reads back.

The builder decides what an example of each task looks like; chat's question index, its
calibration and the answer evaluation pick examples by task. Both sides held their own copy
of these names, so a task added to one would silently be missed by the other.
"""

from __future__ import annotations

#: Tasks whose answer is one label out of the example's options. Their prompt is templated
#: around the source document's text, so chat takes that text (not the prompt) as the question.
CLASSIFICATION_TASKS: frozenset[str] = frozenset(
    {"intent_classification", "sentiment_classification", "text_classification"}
)

#: Tasks whose answer is an agent's reply: grounded by the builder, evaluated as replies.
REPLY_TASKS: tuple[str, ...] = ("support_reply", "dialogue_reply")
