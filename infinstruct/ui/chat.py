"""The customers' chat (Gradio): streamed answers, expandable sources, a route badge,
thumbs up/down with a comment, and a recommendations tab. Bilingual labels (English/中文).

No ``from __future__ import annotations`` here: Gradio finds the ``gr.Request`` parameter
of a handler by its evaluated annotation. No business logic here: the router answers, the platform stores. Text from the model and
from retrieved passages is HTML-escaped before display (it is data, not markup), and the
platform's errors become ``gr.Error`` messages at this boundary.
"""

import html
import logging
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from infinstruct.platform.chat.answers import Answer, Source
from infinstruct.platform.chat.conversations import add_feedback
from infinstruct.platform.chat.safety import RateLimiter
from infinstruct.platform.errors import InfinstructError

if TYPE_CHECKING:
    import gradio as gr

    from infinstruct.platform.chat.router import ChatRouter

log = logging.getLogger(__name__)

Recommend = Callable[[str, int], list[Source]]
ROUTE_LABELS = {
    "curated": "✅ curated · 人工审核答案",
    "model": "🧠 model · 模型",
    "retrieval": "📚 retrieval · 检索",
    "recommend": "🎯 recommend · 推荐",
    "abstain": "🙋 hand-off · 转人工",
}
TITLE = "Ask us anything · 有问必答"


def badge(answer: Answer) -> str:
    """The route badge shown above the chat."""
    label = ROUTE_LABELS.get(answer.route, answer.route)
    latency = f" · {answer.latency_ms:.0f} ms" if answer.latency_ms else ""
    return f"**{label}** · `{html.escape(answer.model_version or '-')}`{latency}"


def sources_markdown(sources: list[Source]) -> str:
    """Escaped sources, one per line (rendered in a collapsible message)."""
    lines = []
    for n, src in enumerate(sources, 1):
        head = " · ".join(html.escape(x) for x in (src.corpus, src.title) if x)
        lines.append(f"**[{n}]** {head} · score {src.score:.3f}\n\n> {html.escape(src.snippet)}")
    return "\n\n".join(lines)


def _client(request: "gr.Request | None") -> str:
    host = request.client.host if request is not None and request.client else "unknown"
    return f"ip:{host}"


def build_chat_ui(
    router: "ChatRouter", *, recommend: Recommend | None = None, limiter: RateLimiter | None = None
) -> "gr.Blocks":
    import gradio as gr

    limiter = limiter or RateLimiter(router.settings.chat.rate_limit_per_minute)

    def respond(
        message: str, history: list[dict[str, Any]], conversation_id: str | None, request: gr.Request
    ) -> Iterator[tuple[Any, ...]]:
        history = list(history or [])
        if not (message or "").strip():
            yield history, conversation_id, None, gr.update(), message
            return
        client = _client(request)
        history.append({"role": "user", "content": html.escape(message)})
        history.append({"role": "assistant", "content": ""})
        try:
            limiter.check(client)
            for event in router.stream(message, conversation_id=conversation_id, client=client):
                if event.kind == "start" and event.answer is not None:
                    yield history, conversation_id, None, badge(event.answer), ""
                elif event.kind == "token":
                    history[-1]["content"] += html.escape(event.text)
                    yield history, conversation_id, None, gr.update(), ""
                elif event.kind == "end" and event.answer is not None:
                    answer = event.answer
                    history[-1]["content"] = html.escape(answer.answer)
                    if answer.sources:
                        history.append(
                            {
                                "role": "assistant",
                                "content": sources_markdown(answer.sources),
                                "metadata": {
                                    "title": f"Sources · 来源 ({len(answer.sources)})",
                                    "status": "done",
                                },
                            }
                        )
                    yield history, answer.conversation_id, answer.turn_id, badge(answer), ""
        except InfinstructError as exc:
            raise gr.Error(str(exc)) from exc
        except Exception as exc:  # the UI handler boundary: log it, show one line
            log.exception("chat failed")
            raise gr.Error(f"internal error: {exc.__class__.__name__}; please try again") from exc

    def rate(value: int) -> Callable[[int | None, str, gr.Request], str]:
        def _rate(turn_id: int | None, comment: str, request: gr.Request) -> str:
            if turn_id is None:
                return "Ask something first · 请先提问"
            try:
                add_feedback(
                    router.settings, int(turn_id), value, comment=comment or "", client=_client(request)
                )
            except InfinstructError as exc:
                raise gr.Error(str(exc)) from exc
            return "Thanks for the feedback · 感谢您的反馈"

        return _rate

    def recommend_items(text: str) -> str:
        if recommend is None:
            return "The recommender is not set up yet · 推荐功能尚未启用"
        if not (text or "").strip():
            return "Tell us what you like · 请告诉我们您喜欢什么"
        try:
            items = recommend(text.strip(), 10)
        except InfinstructError as exc:
            raise gr.Error(str(exc)) from exc
        if not items:
            return "Nothing to recommend yet · 暂无推荐"
        return "\n".join(
            f"{n}. **{html.escape(i.title or i.doc_id)}** {html.escape(i.snippet[:120])}"
            for n, i in enumerate(items, 1)
        )

    def ask_api(
        message: str, conversation_id: str | None = None, request: gr.Request | None = None
    ) -> dict[str, Any]:
        """One whole answer (what ``/api/chat`` returns), for ``gradio_client``."""
        client = _client(request)
        try:
            limiter.check(client)
            answer = router.ask(message, conversation_id=conversation_id or None, client=client)
        except InfinstructError as exc:
            raise gr.Error(str(exc)) from exc
        return answer.as_dict(with_conversation=True)

    with gr.Blocks(title="infinstruct chat") as demo:
        conversation = gr.State(None)
        turn = gr.State(None)
        gr.Markdown(f"## {TITLE}")
        with gr.Tab("Chat · 对话"):
            route_badge = gr.Markdown("", elem_id="route-badge")
            chatbot = gr.Chatbot(elem_id="chatbot", height=460, label="Chat · 对话", feedback_options=None)
            with gr.Row():
                box = gr.Textbox(
                    placeholder="Ask a question… 请输入您的问题…",
                    show_label=False,
                    elem_id="chat-input",
                    scale=8,
                    max_length=router.settings.chat.max_input_chars,
                )
                send = gr.Button("Send · 发送", variant="primary", elem_id="chat-send", scale=1)
            with gr.Row():
                comment = gr.Textbox(
                    placeholder="Comment (optional) · 评论（可选）", show_label=False, scale=6
                )
                up = gr.Button("👍", elem_id="feedback-up", scale=1)
                down = gr.Button("👎", elem_id="feedback-down", scale=1)
            thanks = gr.Markdown("", elem_id="feedback-status")
        with gr.Tab("Recommendations · 推荐"):
            likes = gr.Textbox(label="Something you like · 您喜欢的东西", elem_id="rec-input")
            rec_button = gr.Button("Recommend · 推荐", elem_id="rec-send")
            rec_out = gr.Markdown(elem_id="rec-output")
        outputs = [chatbot, conversation, turn, route_badge, box]
        inputs = [box, chatbot, conversation]
        box.submit(respond, inputs, outputs, api_name="respond")
        send.click(respond, inputs, outputs, api_visibility="private")
        up.click(rate(1), [turn, comment], thanks, api_name="feedback_up")
        down.click(rate(-1), [turn, comment], thanks, api_name="feedback_down")
        rec_button.click(recommend_items, likes, rec_out, api_name="recommend")
        likes.submit(recommend_items, likes, rec_out, api_visibility="private")
        gr.api(ask_api, api_name="ask")
    return demo
