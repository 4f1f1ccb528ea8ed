"""The reply check on the failures customers saw (issue 14), and on good replies."""

from __future__ import annotations

import pytest

from infinstruct.chat.answers import humanize_intent
from infinstruct.chat.reply_check import ReplyContext, check_reply

QUESTION = "My card payment was declined, why?"


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        ("", "empty"),
        ("...", "empty"),
        ("declined_card_payment", "label"),
        ("Refund_not_showing_up", "label"),
        ("cancel_account.", "label"),
        ("card arrival", "label"),  # one of the store's labels, spaced
        ("@user @user @user @user", "degenerate"),
        ("瑶瑶瑶瑶瑶瑶瑶瑶瑶瑶", "degenerate"),
        ("看见订单；看见订单；看见订单；看见订单；", "degenerate"),
        ("I can help. I can help. I can help. I can help.", "degenerate"),
        ("My card payment was declined, why?", "echo"),
        ("my card payment was declined", "echo"),
        ("您的付款被拒绝了，请检查您的卡。", "wrong_language"),
        ("Please contact us at 1-800-899-9999 and we will help.", "invented_contact"),
        ("Please contact us at [address] for help.", "invented_contact"),
        ("Write to help@bank.example.com and we will sort it out.", "invented_contact"),
        ("See https://t.co/abc123 for the reasons.", "invented_contact"),
        ("Is there tracking number for the card? I have done everything asked", "recital"),
        ("You are the customer support assistant of this organisation, answer briefly.", "recital"),
        ("<<<END 063c2078>>\nThe customer has confirmed the flight.", "recital"),
        ("- We are sorry to hear that. Please DM us.", "recital"),
        ("Customer: my card payment was declined", "recital"),
    ],
)
def test_rejects_what_customers_must_not_get(reply: str, reason: str) -> None:
    ctx = ReplyContext(
        question=QUESTION,
        system="You are the customer support assistant of this organisation. Answer briefly.",
        recitable=["Is there tracking number for the card? I have done everything asked of me."],
        labels={"card_arrival", "declined_card_payment"},
    )
    assert check_reply(reply, ctx).reason == reason


@pytest.mark.parametrize(
    ("question", "reply", "allowed"),
    [
        (
            QUESTION,
            "Sorry about that! A payment can be declined when the card is frozen or the limit is reached.",
            [],
        ),
        (QUESTION, "Please call us on 020 7946 0000 so we can check it.", ["Call 020 7946 0000 any day."]),
        ("我的订单什么时候发货？", "亲，您的订单今天会发货，请耐心等待。", []),
        ("Do you ship to Canada?", "Yes, we ship to Canada within 7 to 10 working days.", []),
        ("Thanks!", "You're welcome!", []),
    ],
)
def test_passes_real_answers(question: str, reply: str, allowed: list[str]) -> None:
    verdict = check_reply(reply, ReplyContext(question=question, allowed=allowed, labels={"card_arrival"}))
    assert verdict.ok, verdict


def test_humanize_intent() -> None:
    assert humanize_intent("declined_card_payment") == "Declined card payment"
    assert humanize_intent("Refund_not_showing_up") == "Refund not showing up"
    assert humanize_intent("ATM_support") == "ATM support"
    assert humanize_intent("") == ""


@pytest.mark.parametrize(
    ("question", "reply", "echo"),
    [
        ("请问可以退货吗？", "我们可以退货吗？", True),  # issue 14: passed the check before
        ("请问可以退货吗？", "可以退货吗", True),
        ("请问可以退货吗？", "可以的，亲，支持七天无理由退货，请在订单页面申请。", False),
    ],
)
def test_a_chinese_reply_made_of_the_questions_own_characters_is_an_echo(
    question: str, reply: str, echo: bool
) -> None:
    verdict = check_reply(reply, ReplyContext(question=question))
    assert (verdict.reason == "echo") is echo, verdict
