"""HTTP: ``POST /api/chat``, ``POST /api/feedback`` and the OpenAI-compatible
``POST /v1/chat/completions`` (streaming SSE and not) plus ``GET /v1/models``.

The OpenAI endpoint is stateless like the original: the request's earlier messages are
the history, the last user message is the question; answers carry the route and sources
in an extra ``infinstruct`` field that OpenAI clients ignore. Its requests are bounded
before any model time is spent: ``max_tokens`` within 1..``dialogue.max_new_tokens`` (else
400), at most ``chat.max_messages`` messages of ``chat.max_history_chars`` characters
together (else 413). ``usage`` counts the dialogue model's tokens (0 on routes that use no
model: curated, recommend, hand-off). Every endpoint here shares one ``RateLimiter``
(with the web chat and ``/api/recommend``), keyed by ``client_key``.

FastAPI is imported at module level (it resolves endpoint annotations from module
globals); only the web server imports this module, never the CLI at start-up.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from infinstruct.auth.web import client_key
from infinstruct.chat.router import ChatRouter, check_message
from infinstruct.core.errors import InfinstructError, InputError, LimitError, NotFoundError
from infinstruct.core.ratelimit import RateLimiter, RateLimitError
from infinstruct.core.settings import Settings


class ChatRequest(BaseModel):
    message: str = Field(description="The customer's question.")
    conversation_id: str | None = Field(default=None, description="Continue this conversation.")


class FeedbackRequest(BaseModel):
    turn_id: int = Field(description="The answer's turn_id from /api/chat.")
    rating: int = Field(description="1 (up) or -1 (down).")
    comment: str = Field(default="", max_length=2000)


class OpenAIMessage(BaseModel):
    role: str
    content: str | None = ""


class CompletionRequest(BaseModel):
    model: str | None = None
    messages: list[OpenAIMessage]
    stream: bool = False
    max_tokens: int | None = None
    temperature: float | None = None


def check_completion(
    body: CompletionRequest, *, max_tokens_cap: int, max_messages: int, max_chars: int
) -> None:
    """Refuse a request that would cost more than one answer's worth of model time."""
    if body.max_tokens is not None and not 1 <= body.max_tokens <= max_tokens_cap:
        raise InputError(
            f"max_tokens must be between 1 and {max_tokens_cap} (dialogue.max_new_tokens) "
            f"(got {body.max_tokens}); leave it out for the default"
        )
    if len(body.messages) > max_messages:
        raise LimitError(
            f"{len(body.messages)} messages is more than chat.max_messages={max_messages}; "
            "send only the recent turns"
        )
    total = sum(len(m.content or "") for m in body.messages)
    if total > max_chars:
        raise LimitError(
            f"the messages hold {total} characters, more than chat.max_history_chars={max_chars}; "
            "send only the recent turns"
        )


def usage(router: ChatRouter, messages: list[dict[str, str]], final: Any, text: str) -> dict[str, int]:
    """OpenAI's ``usage``: tokens of the request's messages under the model's chat template and
    of the reply, counted by the dialogue model's tokenizer; 0 when no model answered."""
    prompt = completion = 0
    generated = final.route in ("model", "retrieval")
    if generated or getattr(final, "rejections", None):  # a rejected reply still read the prompt
        backend, _ = router.models.backend()  # already loaded: it just generated
        tokenizer = getattr(backend, "tokenizer", None)
        if tokenizer is not None:
            chat = [m for m in messages if m["role"] in ("system", "user", "assistant")]
            ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=True)
            prompt = len(ids["input_ids"] if isinstance(ids, dict) or hasattr(ids, "keys") else ids)
            completion = len(tokenizer.encode(text, add_special_tokens=False)) if generated else 0
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _status(exc: InfinstructError) -> int:
    if isinstance(exc, RateLimitError):
        return 429
    if isinstance(exc, LimitError):
        return 413
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, InputError):
        return 400
    return 500


def build_chat_api(router: ChatRouter, limiter: RateLimiter | None = None) -> APIRouter:
    """The chat endpoints; pass the server's one ``limiter`` so every channel shares it."""
    settings = router.settings
    limiter = limiter or RateLimiter(settings.chat.rate_limit_per_minute)
    api = APIRouter()

    @api.post("/api/chat", tags=["chat"])
    def chat(body: ChatRequest, request: Request) -> dict[str, Any]:
        """Ask a question; returns the answer, route, sources, model_version, latency_ms,
        conversation_id and turn_id."""
        client = client_key(request)
        try:
            limiter.check(client)
            answer = router.ask(body.message, conversation_id=body.conversation_id, client=client)
        except InfinstructError as exc:
            raise HTTPException(status_code=_status(exc), detail=str(exc)) from exc
        return answer_view(settings, answer, request, with_conversation=True)

    @api.post("/api/feedback", tags=["chat"])
    def feedback(body: FeedbackRequest, request: Request) -> dict[str, Any]:
        """Thumbs up (1) or down (-1), with an optional comment, on an answer."""
        from infinstruct.chat.conversations import add_feedback

        try:
            limiter.check(client_key(request))
            row = add_feedback(
                settings, body.turn_id, body.rating, comment=body.comment, client=client_key(request)
            )
        except InfinstructError as exc:
            raise HTTPException(status_code=_status(exc), detail=str(exc)) from exc
        return {"id": row, "turn_id": body.turn_id, "rating": body.rating}

    @api.get("/v1/models", tags=["openai"])
    def models() -> dict[str, Any]:
        name = router.models.name
        return {"object": "list", "data": [{"id": name, "object": "model", "owned_by": "infinstruct"}]}

    @api.post("/v1/chat/completions", tags=["openai"], response_model=None)
    def completions(body: CompletionRequest, request: Request) -> Any:
        """OpenAI-compatible chat completions over the answer router."""
        return openai_completion(router, limiter, body, request)

    return api


def answer_view(
    settings: Settings, answer: Any, request: Request, *, with_conversation: bool = False
) -> dict[str, Any]:
    """Operators get the whole answer; everyone else the customer's view (customer_view)."""
    from infinstruct.auth.web import principal_of
    from infinstruct.chat.customer_view import PRIVILEGED_ROLES, customer_answer
    from infinstruct.core.corpus_visibility import public_corpora

    principal = principal_of(request)
    if principal is not None and principal.role in PRIVILEGED_ROLES:
        return dict(answer.as_dict(with_conversation=with_conversation))
    return customer_answer(answer, public_corpora(settings))


def _checked_question(body: CompletionRequest, messages: list[dict[str, str]], settings: Settings) -> int:
    """The index of the last user message (the question), once the request is within bounds."""
    check_completion(
        body,
        max_tokens_cap=settings.dialogue.max_new_tokens,
        max_messages=settings.chat.max_messages,
        max_chars=settings.chat.max_history_chars,
    )
    users = [n for n, m in enumerate(messages) if m["role"] == "user"]
    if not users:
        raise InputError("messages holds no user message; the last user message is the question")
    return users[-1]


def openai_completion(
    router: ChatRouter, limiter: RateLimiter, body: CompletionRequest, request: Request
) -> Any:
    """``POST /v1/chat/completions``: one completion object, or an SSE stream when asked."""
    settings = router.settings
    messages = [{"role": m.role, "content": m.content or ""} for m in body.messages]
    try:
        last = _checked_question(body, messages, settings)
        question = check_message(messages[last]["content"], settings.chat.max_input_chars)
        limiter.check(client_key(request))
    except InfinstructError as exc:
        return _openai_error(exc)
    call_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
    events = router.stream(
        question,
        client=client_key(request),
        persist=False,
        history=messages[:last],
        max_new_tokens=body.max_tokens,
    )
    if body.stream:
        return StreamingResponse(_sse(events, call_id, created), media_type="text/event-stream")
    text, final = "", None
    try:
        for event in events:
            if event.kind == "end":
                text, final = event.text, event.answer
    except InfinstructError as exc:  # e.g. the generation failed or ran out of time
        return _openai_error(exc)
    assert final is not None
    return {
        "id": call_id,
        "object": "chat.completion",
        "created": created,
        "model": final.model_version,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": usage(router, messages, final, text),
        "infinstruct": answer_view(settings, final, request),
    }


def _openai_error(exc: InfinstructError) -> JSONResponse:
    status = _status(exc)
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse(
        status_code=status, content={"error": {"message": str(exc), "type": kind, "code": status}}
    )


def _sse(events: Iterator[Any], call_id: str, created: int) -> Iterator[str]:
    """OpenAI's streaming format: ``data: {chunk}`` lines, then ``data: [DONE]``."""
    model = ""

    def chunk(delta: dict[str, Any], finish: str | None, extra: dict[str, Any] | None = None) -> str:
        data: dict[str, Any] = {
            "id": call_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        if extra:
            data["infinstruct"] = extra
        return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

    try:
        for event in events:
            if event.kind == "start" and event.answer is not None:
                model = event.answer.model_version or ""
                yield chunk({"role": "assistant", "content": ""}, None)
            elif event.kind == "token":
                yield chunk({"content": event.text}, None)
            elif event.kind == "end" and event.answer is not None:
                yield chunk({}, "stop", event.answer.as_dict())
    except InfinstructError as exc:  # mid-stream: the status line is sent, report in-band
        yield f"data: {json.dumps({'error': {'message': str(exc), 'type': 'server_error'}})}\n\n"
    yield "data: [DONE]\n\n"
