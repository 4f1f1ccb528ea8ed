"""Every dataset in ../shared/data loads with the counts measured when it was placed.

One store for the whole module: each set is loaded once, then every test reads it.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, col, func, select

from infinstruct.connectors.ingest import ingest
from infinstruct.core.db import get_engine
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Corpus, Document, Interaction
from tests.conftest import SHARED_DATA, shared_path

pytestmark = pytest.mark.slow

SETS = {
    "twcs": ("support", "twcs_head5000_pandas"),
    "twcs-sample": ("support", "twcs_kaggle_sample"),
    "banking77": ("support", "banking77"),
    "abcd": ("support", "abcd_sample"),
    "taskmaster": ("support", "taskmaster1_sample"),
    "ecd": ("zh", "ecd_taobao_customer_service"),
    "twitter-news": ("finance", "twitter_financial_news_sentiment"),
    "seeking-alpha": ("finance", "seeking_alpha_summaries"),
    "phrasebank": ("finance", "financial_phrasebank"),
    "fiqa": ("finance", "fiqa_task1_microblogs"),
    "cnbc": ("finance", "cnbc_finance_rss"),
    "finfe": ("zh", "fincuge_finfe"),
    "finnsp": ("zh", "fincuge_finnsp"),
    "waimai": ("zh", "waimai_10k"),
    "movielens": ("items", "movielens_latest_small"),
    "amazon": ("items", "amazon_fashion_5core"),
}


@pytest.fixture(scope="module")
def reports(module_settings: Settings) -> dict[str, dict[str, Any]]:
    shared_path()  # skip the module cleanly when ../shared/data is absent
    return {
        name: ingest(module_settings, shared_path(*parts), corpus=name, show_progress=False)
        for name, parts in SETS.items()
    }


def test_every_shared_dataset_is_covered() -> None:
    present = {p.relative_to(shared_path()).parts for p in shared_path().glob("*/*") if p.is_dir()}
    assert present == set(SETS.values()), "a new data set in ../shared/data needs a count here"


def test_support_counts(reports: dict[str, dict[str, Any]]) -> None:
    twcs = reports["twcs"]
    assert twcs["read"] == 4014 and twcs["kinds"] == {"dialogue": 1079} and twcs["pairs"] == 1742
    assert reports["twcs-sample"]["read"] == 93
    # 10,003 queries; 4 are exact repeats of earlier ones (same text): kept once, counted.
    assert reports["banking77"]["read"] == 10_003
    assert reports["banking77"]["loaded"] + reports["banking77"]["duplicates"] == 10_003
    assert reports["abcd"]["kinds"] == {"dialogue": 3}
    assert reports["taskmaster"]["kinds"] == {"dialogue": 1}
    assert reports["ecd"]["kinds"] == {"dialogue": 77}


def test_finance_counts(reports: dict[str, dict[str, Any]]) -> None:
    assert reports["twitter-news"]["read"] == 9_543
    assert reports["twitter-news"]["loaded"] + reports["twitter-news"]["duplicates"] == 9_543
    # 459 filings; one summary is often filed under several tickers (each kept, near-dup flagged).
    assert reports["seeking-alpha"]["read"] == 459
    assert reports["seeking-alpha"]["near_duplicates"] > 0
    assert reports["phrasebank"]["loaded"] == 3_858  # the nested agreement files, de-duplicated
    assert reports["fiqa"]["loaded"] == 675
    cnbc = reports["cnbc"]
    assert (cnbc["loaded"], cnbc["duplicates"]) == (42, 18)  # two captures overlap by guid
    # FinFE: 16,157 rows, of which 4,511 repeat an earlier text exactly.
    assert reports["finfe"]["read"] == 16_157
    assert reports["finfe"]["loaded"] + reports["finfe"]["duplicates"] == 16_157
    finnsp = reports["finnsp"]
    assert finnsp["loaded"] + finnsp["duplicates"] == 3_999
    assert finnsp["quarantined"] == 1 and finnsp["quarantine_reasons"] == {"header row inside the data": 1}
    assert reports["waimai"]["read"] == 11_987 and reports["waimai"]["connector"] == "labelled"


def test_items_counts(reports: dict[str, dict[str, Any]]) -> None:
    assert reports["movielens"]["kinds"] == {
        "item": 9_742,
        "interaction:rating": 80_535,
        "interaction:tag": 3_613,
    }
    amazon = reports["amazon"]
    assert amazon["read"] == 3_176
    assert (amazon["interaction_items"], amazon["interaction_users"]) == (31, 406)
    # 68 lines repeat an earlier review byte for byte; tags at the same second all survive.
    assert amazon["kinds"]["item"] == 31
    assert amazon["kinds"]["interaction:review"] + amazon["duplicates"] == 3_176


def _doc(settings: Settings, corpus: str, **where: Any) -> Document:
    with Session(get_engine(settings)) as session:
        query = (
            select(Document)
            .join(Corpus, col(Corpus.id) == col(Document.corpus_id))
            .where(Corpus.name == corpus)
        )
        for key, value in where.items():
            query = query.where(getattr(Document, key) == value)
        found = session.exec(query).first()
        assert found is not None, (corpus, where)
        return found


@pytest.mark.parametrize(
    ("corpus", "text", "label"),
    [
        (
            "twitter-news",
            "$BYND - JPMorgan reels in expectations on Beyond Meat https://t.co/bd0xbFGjkT",
            "negative",
        ),
        ("finfe", "补仓补的心力憔悴", "negative"),
        ("waimai", "很快，好吃，味道足，量大", "positive"),
        (
            "phrasebank",
            "According to Gran , the company has no plans to move all production to Russia , "
            "although that is where the company is growing .",
            "neutral",
        ),
    ],
)
def test_one_known_row_per_sentiment_set(
    reports: Any, module_settings: Settings, corpus: str, text: str, label: str
) -> None:
    doc = _doc(module_settings, corpus, text=text)
    assert doc.label == label and doc.meta["label_set"] == "sentiment"


def test_fiqa_score_and_cutoffs(reports: Any, module_settings: Settings) -> None:
    doc = _doc(module_settings, "fiqa", external_id="14860")
    assert doc.score == pytest.approx(0.459) and doc.label == "positive" and doc.meta["tickers"] == ["FIO"]


def test_phrasebank_keeps_highest_agreement(reports: Any, module_settings: Settings) -> None:
    doc = _doc(
        module_settings,
        "phrasebank",
        text="According to Gran , the company has no plans to move all "
        "production to Russia , although that is where the company is growing .",
    )
    assert doc.meta["agreement"] == 100


def test_chinese_sets_are_zh_and_ecd_is_unsegmented(reports: Any, module_settings: Settings) -> None:
    assert _doc(module_settings, "finfe", text="补仓补的心力憔悴").lang == "zh"
    ecd = _doc(module_settings, "ecd", kind="dialogue")
    assert ecd.lang == "zh" and ecd.meta["distractors"]
    first = ecd.meta["turns"][0]["text"]
    assert " " not in first.strip() or not any("\u4e00" <= c <= "\u9fff" for c in first)


def test_twcs_thread_has_brand_and_turns(reports: Any, module_settings: Settings) -> None:
    doc = _doc(module_settings, "twcs", external_id="1")
    assert doc.meta["brand"] == "sprintcare" and doc.meta["turns"][0]["role"] in ("customer", "agent")
    assert doc.group_key == "twcs:1"


def test_finnsp_is_negative_entity_not_sentiment(reports: Any, module_settings: Settings) -> None:
    doc = _doc(module_settings, "finnsp", external_id="18422d42")
    assert doc.label == "negative" and doc.meta["label_set"] == "negative_entity"
    assert doc.meta["negative_entities"] == ["北银创投"]


def test_movielens_items_and_interactions(reports: Any, module_settings: Settings) -> None:
    toy = _doc(module_settings, "movielens", external_id="1")
    assert toy.title == "Toy Story (1995)" and toy.meta["year"] == 1995 and "Animation" in toy.meta["genres"]
    with Session(get_engine(module_settings)) as session:
        users = session.exec(
            select(func.count(func.distinct(Interaction.user_id))).where(Interaction.kind == "rating")
        ).one()
    assert users == 488


def test_reloading_adds_nothing(reports: Any, module_settings: Settings) -> None:
    again = ingest(
        module_settings, SHARED_DATA / "finance" / "cnbc_finance_rss", corpus="cnbc", show_progress=False
    )
    assert again["loaded"] == 0 and again["unchanged"] and again["version"] == reports["cnbc"]["version"]
