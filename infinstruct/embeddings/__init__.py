"""Sentence embeddings: the one MiniLM runtime that retrieval, chat, recommend and the
instruction builder share (``embedder.py``)."""
