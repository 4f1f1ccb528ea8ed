"""HTTP: ``POST /api/chat``, ``POST /api/feedback`` and the OpenAI-compatible
``POST /v1/chat/completions`` (streaming SSE and not) plus ``GET /v1/models``.

The OpenAI endpoint is stateless like the original: the request's earlier messages are
the history, the last user message is the question; answers carry the route and sources
in an extra ``infinstruct`` field that OpenAI clients ignore.

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

from infinstruct.platform.chat.router import ChatRouter, check_message
from infinstruct.platform.chat.safety import RateLimiter, RateLimitError
from infinstruct.platform.errors import InfinstructError, InputError, LimitError, NotFoundError


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


def client_key(request: Request) -> str:
    """Who is asking: the bearer token's hash when one is sent, else the peer address."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and len(auth) > 7:
        import hashlib

        return "token:" + hashlib.sha256(auth[7:].encode()).hexdigest()[:16]
    return f"ip:{request.client.host if request.client else 'unknown'}"


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
        return answer.as_dict(with_conversation=True)

    @api.post("/api/feedback", tags=["chat"])
    def feedback(body: FeedbackRequest, request: Request) -> dict[str, Any]:
        """Thumbs up (1) or down (-1), with an optional comment, on an answer."""
        from infinstruct.platform.chat.conversations import add_feedback

        try:
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
        messages = [{"role": m.role, "content": m.content or ""} for m in body.messages]
        users = [n for n, m in enumerate(messages) if m["role"] == "user"]
        try:
            if not users:
                raise InputError("messages holds no user message; the last user message is the question")
            question = check_message(messages[users[-1]]["content"], settings.chat.max_input_chars)
            limiter.check(client_key(request))
        except InfinstructError as exc:
            return JSONResponse(
                status_code=_status(exc),
                content={
                    "error": {"message": str(exc), "type": "invalid_request_error", "code": _status(exc)}
                },
            )
        history = messages[: users[-1]]
        call_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        events = router.stream(
            question,
            client=client_key(request),
            persist=False,
            history=history,
            max_new_tokens=body.max_tokens,
        )
        if body.stream:
            return StreamingResponse(_sse(events, call_id, created), media_type="text/event-stream")
        text, final = "", None
        for event in events:
            if event.kind == "end":
                text, final = event.text, event.answer
        assert final is not None
        return {
            "id": call_id,
            "object": "chat.completion",
            "created": created,
            "model": final.model_version,
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
            "infinstruct": final.as_dict(),
        }

    return api


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
