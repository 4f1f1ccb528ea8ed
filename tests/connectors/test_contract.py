"""One contract, every connector: detect is a confidence, read yields valid records."""

from __future__ import annotations

from pathlib import Path

import pytest

from infinstruct.connectors import registry
from infinstruct.connectors.records import Connector, DocumentRecord, InteractionRecord, Quarantined
from infinstruct.core.protocols import SENTIMENT_LABELS
from tests.conftest import shared_path
from tests.connectors.conftest import FIXTURES, SAMPLES

KINDS = {"dialogue", "labelled", "news", "item", "text"}

#: A real (or hand-written) example per connector: (where, parts).
EXAMPLES: dict[str, tuple[str, tuple[str, ...]]] = {
    "twcs": ("shared", ("support", "twcs_kaggle_sample", "sample.csv")),
    "banking77": ("samples", ("banking77",)),
    "abcd": ("samples", ("abcd",)),
    "taskmaster": ("samples", ("taskmaster", "sample.json")),
    "chat-jsonl": ("fixtures", ("chat_sharegpt.jsonl",)),
    "ecd": ("shared", ("zh", "ecd_taobao_customer_service", "train.txt")),
    "feed": ("fixtures", ("atom.xml",)),
    "phrasebank": ("shared", ("finance", "financial_phrasebank", "Sentences_AllAgree.txt")),
    "fiqa": ("shared", ("finance", "fiqa_task1_microblogs", "FiQA_post.json")),
    "twitter-fin-news": ("samples", ("twitter_financial_news", "sent_train.csv")),
    "seeking-alpha": ("fixtures", ("seeking_alpha.csv",)),
    "finfe": ("shared", ("zh", "fincuge_finfe", "train_list.json")),
    "finnsp": ("shared", ("zh", "fincuge_finnsp", "train_list.json")),
    "movielens": ("shared", ("items", "movielens_latest_small", "movies.csv")),
    "amazon-reviews": ("shared", ("items", "amazon_fashion_5core", "AMAZON_FASHION_5.json.gz")),
    "conversation": ("fixtures", ("zendesk_comments.csv",)),
    "labelled": ("fixtures", ("stray_cr.csv",)),
    "news": ("fixtures", ("news_mapped.csv",)),
    "catalogue": ("generated", ("catalogue.csv",)),
}


def _example(name: str, tmp_path: Path) -> Path:
    where, parts = EXAMPLES[name]
    if where == "shared":
        return shared_path(*parts)
    if where == "samples":
        return SAMPLES.joinpath(*parts)
    if where == "fixtures":
        return FIXTURES.joinpath(*parts)
    path = tmp_path / parts[0]
    path.write_text(
        "id,title,description,genres\nsku-1,Blue shirt,Cotton shirt,apparel|tops\n", encoding="utf-8"
    )
    return path


def test_every_connector_has_an_example() -> None:
    assert set(registry.names()) == set(EXAMPLES)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_connector_contract(name: str, tmp_path: Path) -> None:
    connector = registry.get_connector(name)
    assert isinstance(connector, Connector)
    assert connector.domain and connector.expects
    path = _example(name, tmp_path)

    confidence = connector.detect(path)
    assert 0.0 <= confidence <= 1.0
    assert confidence >= registry.MIN_CONFIDENCE, f"{name} does not recognise its own example {path}"
    assert registry.best_match(path, registry.all_connectors()) is not None

    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 20)
    assert connector.detect(junk) < registry.MIN_CONFIDENCE

    records = 0
    for item in connector.read(path):
        if isinstance(item, Quarantined):
            assert item.reason and item.file
            continue
        records += 1
        if isinstance(item, DocumentRecord):
            assert item.kind in KINDS
            assert item.text or item.title
            if item.meta.get("label_set") == "sentiment":
                assert item.label in SENTIMENT_LABELS
            if item.kind == "dialogue":
                assert all(t["role"] in ("customer", "agent") for t in item.meta["turns"])
        else:
            assert isinstance(item, InteractionRecord)
            assert item.user_id and item.item_id and item.kind
        if records >= 300:
            break
    assert records > 0


def test_detection_picks_the_specific_connector() -> None:
    connectors = registry.all_connectors()
    for name in ("banking77", "abcd", "taskmaster", "twitter-fin-news"):
        where, parts = EXAMPLES[name]
        assert where == "samples"
        best = registry.best_match(SAMPLES.joinpath(*parts), connectors)
        assert best is not None and best.name == name


def test_no_match_says_what_each_connector_expects(tmp_path: Path) -> None:
    junk = tmp_path / "notes.dat"
    junk.write_bytes(b"\x00\x01\x02 binary \xff" * 100)
    error = registry.no_match_error(junk, registry.all_connectors())
    assert str(junk) in str(error) and "expects" in str(error) and "--connector" in str(error)
