"""Fill a real store with small corpora shaped like docs/data-model.md says connectors write."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import select

from infinstruct.core.db import session_scope
from infinstruct.core.settings import Settings
from infinstruct.core.tables import (
    Corpus,
    CorpusVersion,
    CuratedAnswer,
    Document,
    Handoff,
    Interaction,
)


def doc_id(corpus: str, kind: str, text: str) -> str:
    return hashlib.sha256(f"{corpus}\x1f{kind}\x1f{text}".encode()).hexdigest()[:32]


def add_corpus(
    settings: Settings,
    name: str,
    domain: str,
    docs: list[dict[str, Any]],
    interactions: list[dict[str, Any]] | None = None,
    *,
    connector: str = "test",
) -> tuple[int, int]:
    """A corpus with one complete version holding ``docs``; returns (corpus id, version id)."""
    with session_scope(settings) as session:
        corpus = Corpus(name=name, domain=domain, connector=connector)
        session.add(corpus)
        session.flush()
        assert corpus.id is not None
    return corpus.id, add_version(settings, corpus.id, docs, interactions)


def add_version(
    settings: Settings,
    corpus_id: int,
    docs: list[dict[str, Any]],
    interactions: list[dict[str, Any]] | None = None,
) -> int:
    with session_scope(settings) as session:
        corpus = session.get(Corpus, corpus_id)
        assert corpus is not None
        number = (
            len(session.exec(select(CorpusVersion.id).where(CorpusVersion.corpus_id == corpus_id)).all()) + 1
        )
        version = CorpusVersion(
            corpus_id=corpus_id, version=number, content_hash=f"h{corpus_id}-{number}", status="complete"
        )
        session.add(version)
        session.flush()
        assert version.id is not None
        for spec in docs:
            spec = dict(spec)
            kind = spec.pop("kind")
            text = spec.pop("text", "")
            session.add(
                Document(
                    id=spec.pop("id", None) or doc_id(corpus.name, kind, text + spec.get("title", "")),
                    corpus_id=corpus_id,
                    version_id=version.id,
                    kind=kind,
                    text=text,
                    **spec,
                )
            )
        for spec in interactions or []:
            session.add(Interaction(corpus_id=corpus_id, version_id=version.id, **spec))
        return version.id


def labelled(text: str, label: str, label_set: str, lang: str = "en", **meta: Any) -> dict[str, Any]:
    return {
        "kind": "labelled",
        "text": text,
        "label": label,
        "lang": lang,
        "meta": {"label_set": label_set, **meta},
    }


def dialogue(turns: list[tuple[str, str]], lang: str = "en", **meta: Any) -> dict[str, Any]:
    return {
        "kind": "dialogue",
        "text": "\n".join(f"{r}: {t}" for r, t in turns),
        "lang": lang,
        "meta": {"turns": [{"role": r, "text": t} for r, t in turns], **meta},
    }


INTENTS = {
    "card_arrival": [
        "When will my new card arrive?",
        "My card still has not arrived after two weeks.",
        "How long does card delivery take?",
        "Is there a way to track the card you sent me?",
    ],
    "lost_or_stolen_card": [
        "I lost my card yesterday evening.",
        "Someone stole my wallet with my card inside.",
        "Please block my card, it was stolen.",
        "I cannot find my card anywhere.",
    ],
    "exchange_rate": [
        "What exchange rate do you use for euros?",
        "How is the currency conversion rate set?",
        "Which rate applies when I pay in dollars?",
        "Is your exchange rate the interbank one?",
    ],
}

FIN_SENTENCES = [
    ("Operating profit rose to EUR 13.1 mn from EUR 8.7 mn in the corresponding period in 2007.", "positive"),
    ("The company reported a net loss of EUR 2.3 million for the quarter.", "negative"),
    ("The annual general meeting will be held in Helsinki on March 25.", "neutral"),
    (
        "Sales in Finland decreased by 10.5 % in January, while sales outside Finland dropped by 17 %.",
        "negative",
    ),
    (
        "The order book grew strongly in the fourth quarter, the backlog reached a record level and "
        "management said the outlook for next year is bright across all business areas.",
        "positive",
    ),
    ("The new plant will employ around 50 people when it starts production.", "neutral"),
    ("$BYND - JPMorgan reels in expectations on Beyond Meat", "negative"),
    ("$AAPL $MSFT rally as tech earnings beat estimates across the board", "positive"),
]


def _ts(day: int) -> datetime:
    return datetime(2018, 1, 1, tzinfo=UTC) + timedelta(days=day)


MOVIES = [
    ("1", "Toy Story (1995)", ["Adventure", "Animation", "Children", "Comedy"], 1995),
    ("2", "Jumanji (1995)", ["Adventure", "Children", "Fantasy"], 1995),
    ("3", "Heat (1995)", ["Action", "Crime", "Thriller"], 1995),
    ("4", "Casino (1995)", ["Crime", "Drama"], 1995),
    ("5", "Sabrina (1995)", ["Comedy", "Romance"], 1995),
    ("6", "GoldenEye (1995)", ["Action", "Adventure", "Thriller"], 1995),
    ("7", "Balto (1995)", ["Adventure", "Animation", "Children"], 1995),
    ("8", "Nixon (1995)", ["Drama"], 1995),
    ("9", "Twelve Monkeys (1995)", ["Mystery", "Sci-Fi", "Thriller"], 1995),
    ("10", "Babe (1995)", ["Children", "Drama"], 1995),
    ("11", "Clueless (1995)", ["Comedy", "Romance"], 1995),
    ("12", "Se7en (1995)", ["Mystery", "Thriller"], 1995),
]


def fill_store(settings: Settings) -> dict[str, tuple[int, int]]:
    """Every kind of source the builder reads, with planted duplicates, PII and conflicts."""
    ids: dict[str, tuple[int, int]] = {}
    twcs = [
        dialogue(
            [
                ("customer", "@sprintcare my phone has had no signal since this morning"),
                ("agent", "Sorry to hear that! Have you tried restarting the device?"),
                ("customer", "Yes, twice, still nothing"),
                ("agent", "Please DM us your account number and we will check the tower near you."),
            ],
            brand="sprintcare",
            thread_id="t1",
        ),
        dialogue(
            [
                ("agent", "Hi there, following up on your order."),
                ("customer", "My burrito order was missing the guac"),
                ("agent", "That is not ok, we will refund the guac right away."),
                ("agent", "Refund is on its way."),
                ("customer", "thanks"),
            ],
            brand="ChipotleTweets",
            thread_id="t2",
        ),
        dialogue(
            [
                ("customer", "My bill doubled this month, why?"),
                ("agent", "Let us look into it, please email me at jane.doe@example.com"),
            ],
            brand="sprintcare",
            thread_id="t3",
        ),
    ]
    ids["twcs"] = add_corpus(settings, "twcs", "support", twcs)
    ecd = [
        dialogue(
            [
                ("customer", "你好 ， 请问 这个 什么 时候 发货 ？"),
                ("agent", "亲 ， 今天 下午 就 发货 哦"),
                ("customer", "好 的 ， 谢谢"),
                ("agent", "不 客气 ， 祝 您 购物 愉快"),
            ],
            lang="zh",
        ),
        dialogue(
            [("customer", "这件 衣服 有 优惠 吗"), ("agent", "亲 ， 现在 下单 可以 领 十元 优惠券")],
            lang="zh",
        ),
    ]
    ids["ecd"] = add_corpus(
        settings, "ecd", "support", [{**d, "group_key": f"ecd{i}"} for i, d in enumerate(ecd)]
    )
    banking = [labelled(t, label, "intent") for label, texts in INTENTS.items() for t in texts]
    ids["banking77"] = add_corpus(settings, "banking77", "support", banking)
    fin = [labelled(t, label, "sentiment", agreement=100) for t, label in FIN_SENTENCES]
    # PhraseBank ships nested agreement files: the same sentence again, in another corpus.
    fin_again = [
        labelled(FIN_SENTENCES[0][0], "positive", "sentiment", agreement=50),
        # a conflicting label for the same sentence (case/punctuation differ only)
        labelled(FIN_SENTENCES[2][0].upper(), "positive", "sentiment"),
        # a near duplicate (one word changed)
        labelled(FIN_SENTENCES[4][0].replace("record", "new"), "positive", "sentiment"),
        # a Chinese sentence mislabelled as English
        labelled("公司本季度利润大幅增长，前景看好。", "positive", "sentiment", lang="en"),
        labelled("Call me at +1 415-555-0132 to invest in this amazing stock", "positive", "sentiment"),
        labelled("Mail jane.doe@example.com for the full report on this stock", "neutral", "sentiment"),
    ]
    ids["phrasebank"] = add_corpus(settings, "phrasebank", "finance", fin)
    ids["phrasebank_50"] = add_corpus(settings, "phrasebank_50", "finance", fin_again)
    finfe = [
        labelled("补仓补的心力憔悴", "negative", "sentiment", lang="zh"),
        labelled("紫金矿业也是，40个点的前一天清了仓，请叫我接盘侠", "neutral", "sentiment", lang="zh"),
        labelled("今天大涨，持仓的股票全部翻红，开心", "positive", "sentiment", lang="zh"),
    ]
    ids["finfe"] = add_corpus(settings, "finfe", "finance", finfe)
    finnsp = [
        labelled(
            "恒丰银行涉嫌违规放贷被罚款，工商银行表示不受影响。",
            "1",
            "negative_entity",
            lang="zh",
            entities=["恒丰银行", "工商银行"],
        ),
        labelled(
            "招商银行发布年报，净利润同比增长百分之十五。",
            "0",
            "negative_entity",
            lang="zh",
            entities="招商银行",
        ),
    ]
    ids["finnsp"] = add_corpus(settings, "finnsp", "finance", finnsp)
    news = [
        {
            "kind": "news",
            "title": "Apple shares hit record as iPhone sales surge",
            "text": "Apple stock climbed 3% on Tuesday after the company reported stronger than expected "
            "iPhone sales in China.",
            "meta": {"tickers": ["AAPL"], "guid": "g1"},
        },
        {
            "kind": "news",
            "title": "Banks brace for tougher capital rules",
            "text": "Regulators proposed new capital requirements that could cut bank profits next year.",
            "meta": {"guid": "g2"},
        },
        {
            "kind": "news",
            "title": "",
            "text": "Tesla deliveries beat expectations; the company guided to higher margins in Q2.",
            "meta": {"tickers": ["TSLA"], "source": "seekingalpha"},
        },
    ]
    ids["news"] = add_corpus(settings, "news", "finance", news)
    waimai = [
        labelled("很快，好吃，味道足，量大", "positive", "sentiment", lang="zh"),
        labelled("送餐太慢了，饭都凉了", "negative", "sentiment", lang="zh"),
        labelled("味道一般，下次不会再点了", "negative", "sentiment", lang="zh"),
    ]
    ids["waimai"] = add_corpus(settings, "waimai", "labelled", waimai)
    movies = [
        {
            "kind": "item",
            "title": title,
            "text": f"genres: {'|'.join(g)}",
            "external_id": mid,
            "meta": {"genres": g, "year": year, "tags": ["pixar", "fun"] if mid == "1" else []},
        }
        for mid, title, g, year in MOVIES
    ]
    ratings = []
    for user, liked in {"u1": ["1", "2", "7", "10"], "u2": ["3", "6", "9", "12", "4"], "u3": ["5"]}.items():
        for day, item in enumerate(liked):
            ratings.append({"user_id": user, "item_id": item, "kind": "rating", "value": 4.5, "ts": _ts(day)})
        ratings.append({"user_id": user, "item_id": "8", "kind": "rating", "value": 2.0, "ts": _ts(50)})
    ids["movielens"] = add_corpus(settings, "movielens", "items", movies, ratings)
    legal = [
        {
            "kind": "text",
            "title": "Tenant deposit rules",
            "text": "A landlord must return the deposit within thirty days after the tenancy ends. "
            "Deductions are allowed only for unpaid rent and damage beyond normal wear. "
            "The landlord has to give an itemised list of every deduction. "
            "If the deposit is not returned in time, the tenant may claim twice the amount. "
            "Disputes go to the local housing tribunal, which decides within eight weeks.",
        },
        dialogue(
            [
                ("customer", "Can my landlord keep my whole deposit?"),
                ("agent", "Only for unpaid rent or damage beyond normal wear, with an itemised list."),
            ]
        ),
    ]
    ids["legal"] = add_corpus(settings, "legal", "legal", legal)
    with session_scope(settings) as session:
        session.add(
            CuratedAnswer(
                question="What are your opening hours?",
                answer="We are open 9:00 to 17:00, Monday to Friday.",
                lang="en",
            )
        )
        session.add(
            CuratedAnswer(question="退货需要几天？", answer="收到退货后三个工作日内退款。", lang="zh")
        )
        session.add(CuratedAnswer(question="Inactive one?", answer="Not used.", active=False))
        session.add(
            Handoff(
                question="Do you ship to Norway?",
                status="answered",
                answer="Yes, shipping to Norway takes 5-7 days.",
                answered_by="op",
            )
        )
        session.add(Handoff(question="Still waiting", status="open"))
    return ids
