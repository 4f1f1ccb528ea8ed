"""Gradio apps only (chat, analyst, operator); no business logic here."""
