"""The chat: an answer router (curated → model → retrieval → recommend → abstain), its
calibration, conversations, curated answers, hand-offs, feedback, dialogue backends and
the HTTP APIs (``/api/chat`` and the OpenAI-compatible ``/v1/chat/completions``).

Heavy libraries (torch, faiss, fastapi, langchain) are imported inside functions: the CLI
reaches this package and ``infinstruct --help`` must stay light.
"""

from infinstruct.chat.answers import ROUTES, Answer, Source

__all__ = ["ROUTES", "Answer", "Source"]
