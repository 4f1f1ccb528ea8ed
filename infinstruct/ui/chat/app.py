"""The customers' chat page (Gradio): streamed answers, readable sources, a route badge,
thumbs up/down with a comment, and a Recommendations tab shown only when a catalogue exists.

No ``from __future__ import annotations`` here: Gradio finds the ``gr.Request`` parameter
of a handler by its evaluated annotation. Labels follow the browser's language (``texts``),
and so do the server's messages (from the request's ``Accept-Language``). Every handler goes
through the page's :class:`ChatPage`; no business logic here.
"""

import html
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from infinstruct.core.errors import InfinstructError
from infinstruct.core.ratelimit import RateLimiter
from infinstruct.ui.chat.backend import ChatPage, Recommend
from infinstruct.ui.chat.texts import i18n, lang_of
from infinstruct.ui.chat.view import badge, sources_markdown

if TYPE_CHECKING:
    import gradio as gr

    from infinstruct.chat.router import ChatRouter


def _client(request: "gr.Request | None") -> str:
    host = request.client.host if request is not None and request.client else "unknown"
    return f"ip:{host}"


def make_respond(page: ChatPage, sources_title: Any) -> Callable[..., Iterator[tuple[Any, ...]]]:
    """The streaming chat handler: (message, history, conversation) -> chatbot updates."""
    import gradio as gr

    def respond(
        message: str, history: list[dict[str, Any]], conversation_id: str | None, request: gr.Request
    ) -> Iterator[tuple[Any, ...]]:
        history = list(history or [])
        if not (message or "").strip():
            yield history, conversation_id, None, gr.update(), message
            return
        client, lang = _client(request), lang_of(request)
        history += [{"role": "user", "content": html.escape(message)}, {"role": "assistant", "content": ""}]
        try:
            page.check_rate(client)
            for event in page.router.stream(message, conversation_id=conversation_id, client=client):
                if event.kind == "token":
                    history[-1]["content"] += html.escape(event.text)
                    yield history, conversation_id, None, gr.update(), ""
                elif event.kind == "end" and event.answer is not None:
                    view = page.view(event.answer)
                    history[-1]["content"] = html.escape(view["answer"])
                    if view["sources"]:
                        meta = {"title": f"{lang_title(sources_title, lang)} ({len(view['sources'])})"}
                        history.append(
                            {
                                "role": "assistant",
                                "content": sources_markdown(view["sources"]),
                                "metadata": meta,
                            }
                        )
                    yield history, view["conversation_id"], view["turn_id"], badge(view, lang), ""
        except Exception as exc:  # the customer page's boundary: a plain sentence, details logged
            raise gr.Error(page.plain_error(exc, lang)) from exc

    return respond


def lang_title(titles: dict[str, str], lang: str) -> str:
    return titles.get(lang, titles["en"])


def make_rate(page: ChatPage, value: int) -> Callable[..., str]:
    import gradio as gr

    def rate(turn_id: int | None, comment: str, request: gr.Request) -> str:
        lang = lang_of(request)
        try:
            return page.feedback(turn_id, value, comment, _client(request), lang)
        except InfinstructError as exc:
            raise gr.Error(page.plain_error(exc, lang)) from exc

    return rate


def make_recommend(page: ChatPage) -> Callable[..., str]:
    import gradio as gr

    def recommend_items(text: str, request: gr.Request) -> str:
        return page.recommendations(text, lang_of(request))

    return recommend_items


def make_ask_api(page: ChatPage) -> Callable[..., dict[str, Any]]:
    import gradio as gr

    def ask_api(
        message: str, conversation_id: str | None = None, request: gr.Request | None = None
    ) -> dict[str, Any]:
        """One whole answer, the customer's view of it (as ``/api/chat``), for ``gradio_client``."""
        client, lang = _client(request), lang_of(request)
        try:
            page.check_rate(client)
            answer = page.router.ask(message, conversation_id=conversation_id or None, client=client)
        except Exception as exc:  # the boundary: a plain sentence, details logged
            raise gr.Error(page.plain_error(exc, lang)) from exc
        return page.view(answer)

    return ask_api


def _chat_tab(page: ChatPage, t: Any) -> dict[str, Any]:
    import gradio as gr

    with gr.Tab(t("tab_chat"), id="chat"):
        route_badge = gr.Markdown("", elem_id="route-badge")
        chatbot = gr.Chatbot(elem_id="chatbot", height=460, label=t("tab_chat"), feedback_options=None)
        with gr.Row():
            box = gr.Textbox(
                placeholder=t("placeholder"),
                show_label=False,
                elem_id="chat-input",
                scale=8,
                max_length=page.router.settings.chat.max_input_chars,
            )
            send = gr.Button(t("send"), variant="primary", elem_id="chat-send", scale=1)
        with gr.Row():
            comment = gr.Textbox(placeholder=t("comment"), show_label=False, scale=6)
            up = gr.Button("👍", elem_id="feedback-up", scale=1)
            down = gr.Button("👎", elem_id="feedback-down", scale=1)
        thanks = gr.Markdown("", elem_id="feedback-status")
    return {
        "badge": route_badge,
        "chatbot": chatbot,
        "box": box,
        "send": send,
        "comment": comment,
        "up": up,
        "down": down,
        "thanks": thanks,
    }


def _rec_tab(page: ChatPage, t: Any) -> tuple[Any, Any, Any, Any]:
    import gradio as gr

    with gr.Tab(t("tab_rec"), id="recommendations", visible=page.catalogue_ready()) as tab:
        likes = gr.Textbox(label=t("rec_label"), elem_id="rec-input")
        button = gr.Button(t("rec_send"), elem_id="rec-send")
        out = gr.Markdown(elem_id="rec-output")
    return tab, likes, button, out


def build_chat_ui(
    router: "ChatRouter", *, recommend: Recommend | None = None, limiter: RateLimiter | None = None
) -> "gr.Blocks":
    """The customer page over ``router``; the Recommendations tab appears once a catalogue exists."""
    import gradio as gr

    from infinstruct.ui.chat.texts import EN, ZH

    page = ChatPage(router, recommend=recommend, limiter=limiter)
    t = i18n()
    with gr.Blocks(title="Help · 帮助") as demo:
        conversation, turn = gr.State(None), gr.State(None)
        gr.Markdown(t("title"), elem_id="chat-title")
        c = _chat_tab(page, t)
        rec_tab, likes, rec_button, rec_out = _rec_tab(page, t)
        outputs = [c["chatbot"], conversation, turn, c["badge"], c["box"]]
        inputs = [c["box"], c["chatbot"], conversation]
        respond = make_respond(page, {"en": EN["sources"], "zh": ZH["sources"]})
        c["box"].submit(respond, inputs, outputs, api_name="respond")
        c["send"].click(respond, inputs, outputs, api_visibility="private")
        c["up"].click(make_rate(page, 1), [turn, c["comment"]], c["thanks"], api_name="feedback_up")
        c["down"].click(make_rate(page, -1), [turn, c["comment"]], c["thanks"], api_name="feedback_down")
        rec = make_recommend(page)
        rec_button.click(rec, likes, rec_out, api_name="recommend")
        likes.submit(rec, likes, rec_out, api_visibility="private")
        gr.api(make_ask_api(page), api_name="ask")
        # A catalogue loaded after start-up shows the tab on the next page load.
        demo.load(lambda: gr.Tab(visible=page.catalogue_ready()), None, rec_tab, api_visibility="private")
    demo.i18n_instance = t
    return demo
