"""The customer page's words in English and Chinese: Gradio's ``I18n`` for labels, and the
same table for the server's own messages (picked by the request's ``Accept-Language``)."""

from __future__ import annotations

from typing import Any

EN: dict[str, str] = {
    "title": "## Ask us anything",
    "tab_chat": "Chat",
    "tab_rec": "Recommendations",
    "placeholder": "Ask a question…",
    "send": "Send",
    "comment": "Comment (optional)",
    "rec_label": "Something you like",
    "rec_send": "Recommend",
    "sources": "Sources",
    "ask_first": "Ask something first.",
    "thanks": "Thanks for the feedback.",
    "rec_empty_input": "Tell us what you like, for example “space adventure with robots”.",
    "rec_none": "We have nothing to recommend for that yet; try other words.",
    "rec_unavailable": "Recommendations are not available right now.",
    "err_rate": "You are sending messages too quickly. Please wait a minute and try again.",
    "err_too_long": "That message is too long. Please shorten it and try again.",
    "err_input": "We could not read that message. Please rephrase it and try again.",
    "err_internal": "Something went wrong on our side. Please try again in a moment.",
    "route_curated": "Answer reviewed by our team",
    "route_model": "Answered by our assistant",
    "route_retrieval": "From our help centre",
    "route_recommend": "Recommendations",
    "route_abstain": "Passed to a person",
    "topic": "Topic",
}

ZH: dict[str, str] = {
    "title": "## 有问必答",
    "tab_chat": "对话",
    "tab_rec": "推荐",
    "placeholder": "请输入您的问题…",
    "send": "发送",
    "comment": "评论（可选）",
    "rec_label": "您喜欢的东西",
    "rec_send": "推荐",
    "sources": "来源",
    "ask_first": "请先提问。",
    "thanks": "感谢您的反馈。",
    "rec_empty_input": "请告诉我们您喜欢什么，例如“有机器人的太空冒险”。",
    "rec_none": "暂时没有合适的推荐，请换个说法试试。",
    "rec_unavailable": "推荐功能暂不可用。",
    "err_rate": "您发送得太快了，请稍等一分钟再试。",
    "err_too_long": "消息太长了，请缩短后再试。",
    "err_input": "我们没能读懂这条消息，请换个说法再试。",
    "err_internal": "我们这边出了点问题，请稍后再试。",
    "route_curated": "人工审核的答案",
    "route_model": "智能助手回答",
    "route_retrieval": "来自帮助中心",
    "route_recommend": "推荐",
    "route_abstain": "已转人工",
    "topic": "主题",
}

LANGS = {"en": EN, "zh": ZH}


def i18n() -> Any:
    """The Gradio ``I18n`` of the page (labels follow the browser's language)."""
    import gradio as gr

    return gr.I18n(en=EN, zh=ZH)


def lang_of(request: Any) -> str:
    """``zh`` when the browser prefers Chinese (first language in ``Accept-Language``), else ``en``."""
    headers = getattr(request, "headers", None) or {}
    accept = str(headers.get("accept-language", "") or "")
    first = accept.split(",")[0].strip().lower()
    return "zh" if first.startswith("zh") else "en"


def say(key: str, lang: str) -> str:
    """The server's own message ``key`` in ``lang`` (English when missing)."""
    return LANGS.get(lang, EN).get(key) or EN[key]
