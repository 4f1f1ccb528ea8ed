"""The customers' chat page: ``build_chat_ui`` (app), its backend (``ChatPage``), words (texts)."""

from infinstruct.ui.chat.app import build_chat_ui
from infinstruct.ui.chat.backend import ChatPage

__all__ = ["ChatPage", "build_chat_ui"]
