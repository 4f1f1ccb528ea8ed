"""The benchmark's baseline: a plain LCEL ``retriever | prompt | llm`` chain.

``backend_llm`` wraps any ``DialogueBackend`` as a streaming runnable; ``baseline_chain`` is
the chain ``bench/chat/run.py`` compares the router against (same retriever, same model, no
routing, no spotlighting). Only the benchmark uses it, so it lives here, not in
``infinstruct.chat`` (moved from ``infinstruct/chat/chain.py``, whose unused
``rag_messages_chain`` was dropped: the router builds its messages with ``chat.prompts``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infinstruct.core.protocols import DialogueBackend


def _as_dicts(value: Any) -> list[dict[str, str]]:
    """Chat messages from a prompt value, LangChain messages or plain dicts."""
    if hasattr(value, "to_messages"):
        value = value.to_messages()
    roles = {"human": "user", "ai": "assistant", "system": "system"}
    out = []
    for message in value:
        if isinstance(message, dict):
            out.append({"role": str(message["role"]), "content": str(message["content"])})
        else:
            out.append({"role": roles.get(message.type, message.type), "content": str(message.content)})
    return out


def backend_llm(backend: DialogueBackend, *, max_new_tokens: int) -> Any:
    """A streaming runnable: messages (or a chat prompt value) in, text pieces out."""
    from langchain_core.runnables import RunnableGenerator

    def _generate(inputs: Iterator[Any]) -> Iterator[str]:
        for value in inputs:  # a non-streaming upstream hands over one whole value
            yield from backend.stream(_as_dicts(value), max_new_tokens=max_new_tokens)

    return RunnableGenerator(_generate, name="dialogue_backend")


def baseline_chain(retriever: Any, backend: DialogueBackend, *, max_new_tokens: int) -> Any:
    """The naive ``retriever | prompt | llm`` chain (the benchmark's baseline)."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate
    from langchain_core.runnables import RunnablePassthrough

    prompt = ChatPromptTemplate.from_messages(
        [
            ("system", "Answer the question using the context below.\n\nContext:\n{context}"),
            ("human", "{question}"),
        ]
    )

    def _join(docs: list[Any]) -> str:
        return "\n\n".join(d.page_content for d in docs)

    return (
        {"context": retriever | _join, "question": RunnablePassthrough()}
        | prompt
        | backend_llm(backend, max_new_tokens=max_new_tokens)
        | StrOutputParser()
    )
