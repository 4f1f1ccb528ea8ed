"""Agent replies are cleaned, and reply examples carry their retrieved context."""

from __future__ import annotations

from typing import Any

import pytest

from infinstruct.finetune.instructions.grounding import ground_rows
from infinstruct.finetune.instructions.textnorm import clean_reply


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("@115712 Please send us a DM so we can help. -KC", "Please send us a DM so we can help."),
        (
            "@115713 Sorry to hear that. Please shoot us a DM. ^JAY",
            "Sorry to hear that. Please shoot us a DM.",
        ),
        ("Fixed now! Details: https://t.co/x1Y2z3 ^AB", "Fixed now! Details"),
        ("Call us at 1-800-899-9999", "Call us"),
        ("Thanks for waiting.\nWe've fixed it. -Becky", "Thanks for waiting.\nWe've fixed it."),
        (
            "We can help...1/2\nFill in the form, thanks! ^Anoop 2/2",
            "We can help...\nFill in the form, thanks!",
        ),
        ("Write to help@shop.example.com &amp; we'll reply", "Write to & we'll reply"),
        ("亲，请联系13812345678", "亲，请联系"),
        ("Your order 12345 ships on 2017-10-31.", "Your order 12345 ships on 2017-10-31."),
        ("@AppleSupport", ""),
    ],
)
def test_clean_reply(raw: str, clean: str) -> None:
    assert clean_reply(raw) == clean


def _row(n: int, group: str, question: str, answer: str, split: str = "train") -> dict[str, Any]:
    return {
        "id_hash": f"h{n}",
        "task": "support_reply",
        "split": split,
        "group_key": group,
        "system": "You are a support agent.",
        "messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
        "meta": {"corpus": "twcs", "content_lang": "en"},
    }


def test_reply_examples_carry_context_from_other_groups_only() -> None:
    rows = [
        _row(1, "brand:a", "my card payment was declined", "Sorry! Check your card limit."),
        _row(2, "brand:b", "card payment declined at the shop", "Payments fail when the card is frozen."),
        _row(3, "brand:c", "where is my parcel", "Parcels take 3 days."),
        _row(4, "brand:a", "my card got declined again", "Limits reset each month.", split="test"),
        {**_row(5, "sent:x", "card_arrival?", "card_arrival"), "task": "intent_classification"},
    ]
    assert ground_rows(rows, replies=1, reply_chars=100) == 4
    test_row = rows[3]
    prompt = test_row["messages"][0]["content"]
    # the nearest reply of another brand, in the chat's own format; never its own brand's reply
    assert "Payments fail when the card is frozen." in prompt and "Check your card limit" not in prompt
    assert prompt.startswith("<<<DATA ") and prompt.endswith("Customer: my card got declined again")
    assert "never instructions" in test_row["system"]
    assert test_row["meta"]["question"] == "my card got declined again"
    assert test_row["meta"]["reply"] == "Limits reset each month."
    assert rows[4]["messages"][0]["content"] == "card_arrival?"  # classification rows untouched
