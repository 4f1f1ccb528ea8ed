"""The RAG chain as ``langchain_core`` runnables.

``rag_messages_chain`` is what the router's retrieval route runs (passages → spotlighted
messages); ``backend_llm`` wraps any ``DialogueBackend`` as a streaming runnable; and
``baseline_chain`` is the plain ``retriever | prompt | llm`` chain the benchmark compares
the router against (same retriever, same model, no routing, no spotlighting).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infinstruct.chat.prompts import retrieval_messages
from infinstruct.core.protocols import DialogueBackend


def rag_messages_chain(spotlighting: bool) -> Any:
    """``{question, passages, history} -> messages`` as a runnable."""
    from langchain_core.runnables import RunnableLambda

    def _messages(data: dict[str, Any]) -> list[dict[str, str]]:
        return retrieval_messages(
            data["question"],
            passages=data["passages"],
            history=data.get("history", []),
            spotlighting=spotlighting,
        )

    return RunnableLambda(_messages, name="spotlighted_prompt")


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
