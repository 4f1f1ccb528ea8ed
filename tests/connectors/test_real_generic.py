"""The generic connectors on shared real data re-exported the way operators' tools write it.

- twcs as a helpdesk export (one row per message: ticket id, author role, body, time) in CSV
  and in shuffled JSON lines → as many dialogues as the twcs connector builds;
- FiQA as a JSON array with a numeric ``sentiment`` and as Parquet (nested) → the label
  counts its scores give under the shared threshold rule; PhraseBank as Parquet → its counts;
- two split files of unrelated sets no longer share a corpus name, and forcing one is refused;
- ``--dry-run`` of the export predicts the load and writes nothing.
"""

from __future__ import annotations

import csv
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, col, func, select

from infinstruct.connectors import sentiment
from infinstruct.connectors.dialogues import EcdConnector
from infinstruct.connectors.ingest import ingest
from infinstruct.connectors.labelled import FiqaConnector, PhraseBankConnector
from infinstruct.connectors.preview import preview
from infinstruct.connectors.records import DocumentRecord
from infinstruct.connectors.safeio import csv_rows
from infinstruct.connectors.twcs import TwcsConnector, _created
from infinstruct.core.db import get_engine
from infinstruct.core.errors import ConnectorError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Corpus, CorpusVersion, Document
from tests.conftest import shared_path

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The re-exports, and what the dedicated connectors make of the originals."""
    folder = tmp_path_factory.mktemp("exports")
    twcs = shared_path("support", "twcs_head5000_pandas", "twcs.csv")
    threads = [r for r in TwcsConnector().read(twcs) if isinstance(r, DocumentRecord)]
    created = {int(row["tweet_id"]): _created(row) for _, row in csv_rows(twcs) if isinstance(row, dict)}
    messages = [
        {
            "ticket_id": f"T{thread.external_id}",
            "author_role": "end-user" if turn["role"] == "customer" else "agent",
            "body": turn["text"],
            "created_at": created[turn["tweet_id"]].isoformat() + "Z",
        }
        for thread in threads
        for turn in thread.meta["turns"]
    ]
    messages.sort(key=lambda m: m["created_at"])  # a real export interleaves the tickets
    helpdesk_csv = folder / "tickets.csv"
    with helpdesk_csv.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(messages[0]))
        writer.writeheader()
        writer.writerows(messages)
    shuffled = messages[:]
    random.Random(18).shuffle(shuffled)
    helpdesk_jsonl = folder / "messages.jsonl"
    helpdesk_jsonl.write_text(
        "".join(
            json.dumps(
                {
                    "conversation_id": m["ticket_id"],
                    "role": m["author_role"],
                    "text": m["body"],
                    "timestamp": m["created_at"],
                }
            )
            + "\n"
            for m in shuffled
        ),
        encoding="utf-8",
    )
    fiqa = [
        r for r in FiqaConnector().read(shared_path("finance", "fiqa_task1_microblogs", "FiQA_post.json"))
    ]
    posts = [r for r in fiqa if isinstance(r, DocumentRecord)]
    headlines = folder / "fiqa_headlines.json"
    headlines.write_text(
        json.dumps(
            [
                {
                    "id": p.external_id,
                    "company": (p.meta["tickers"] or [""])[0],
                    "title": p.text,
                    "sentiment": p.score,
                }
                for p in posts
            ]
        ),
        encoding="utf-8",
    )
    import pyarrow as pa
    import pyarrow.parquet as pq

    fiqa_parquet = folder / "fiqa.parquet"
    pq.write_table(
        pa.Table.from_pylist(
            [{"post": {"id": p.external_id, "body": p.text}, "score": p.score} for p in posts]
        ),
        fiqa_parquet,
    )
    bank = shared_path("finance", "financial_phrasebank", "Sentences_AllAgree.txt")
    phrases = [r for r in PhraseBankConnector().read(bank) if isinstance(r, DocumentRecord)]
    phrase_parquet = folder / "phrasebank.parquet"
    pq.write_table(
        pa.Table.from_pylist([{"sentence": p.text, "label": p.label} for p in phrases]), phrase_parquet
    )
    return {
        "threads": threads,
        "messages": len(messages),
        "csv": helpdesk_csv,
        "jsonl": helpdesk_jsonl,
        "posts": posts,
        "headlines": headlines,
        "fiqa_parquet": fiqa_parquet,
        "phrases": phrases,
        "phrase_parquet": phrase_parquet,
        "folder": folder,
    }


def _labels(settings: Settings, corpus: str) -> Counter[str]:
    with Session(get_engine(settings)) as session:
        rows = session.exec(
            select(Document.label, func.count())
            .join(Corpus, col(Corpus.id) == col(Document.corpus_id))
            .where(Corpus.name == corpus)
            .group_by(Document.label)
        ).all()
    return Counter({str(label): int(n) for label, n in rows})


def test_helpdesk_reexports_of_twcs_give_the_same_dialogues(
    module_settings: Settings, exports: dict[str, Any]
) -> None:
    original = ingest(
        module_settings,
        shared_path("support", "twcs_head5000_pandas", "twcs.csv"),
        corpus="twcs",
        show_progress=False,
    )
    assert len(exports["threads"]) == original["records"] == 1079
    for name in ("csv", "jsonl"):
        report = ingest(module_settings, exports[name], corpus=f"helpdesk-{name}", show_progress=False)
        assert report["connector"] == "conversation", name
        assert report["records"] == len(exports["threads"]), name
        assert report["kinds"] == original["kinds"] == {"dialogue": 1079}, name
        assert report["read"] == exports["messages"] and report["quarantined"] == 0, name
    with Session(get_engine(module_settings)) as session:
        doc = session.exec(select(Document).where(Document.external_id == "T1")).first()
    assert doc is not None and doc.meta["order"] == "time"
    assert [t["role"] for t in doc.meta["turns"]][:2] == ["customer", "agent"]


def test_json_array_and_parquet_scores_give_the_right_label_counts(
    module_settings: Settings, exports: dict[str, Any]
) -> None:
    scores = [p.score for p in exports["posts"]]
    # The FiQA connector's own cut-offs, now the shared rule: the same 218 / 31 / 426 split.
    fiqa_rule = ingest(
        module_settings,
        exports["headlines"],
        corpus="headlines-fiqa-rule",
        score_thresholds=sentiment.FIQA_THRESHOLDS,
        show_progress=False,
    )
    assert fiqa_rule["connector"] == "labelled" and fiqa_rule["quarantined"] == 0
    assert _labels(module_settings, "headlines-fiqa-rule") == Counter(p.label for p in exports["posts"])
    assert _labels(module_settings, "headlines-fiqa-rule") == {
        "negative": 218,
        "neutral": 31,
        "positive": 426,
    }
    # The default ±0.05, counted here straight from the scores.
    ingest(module_settings, exports["headlines"], corpus="headlines", show_progress=False)
    expected = Counter("negative" if s < -0.05 else "positive" if s > 0.05 else "neutral" for s in scores)
    assert _labels(module_settings, "headlines") == expected
    parquet = ingest(
        module_settings,
        exports["fiqa_parquet"],
        corpus="fiqa-parquet",
        columns={"text": "post.body", "label": "score"},
        show_progress=False,
    )
    assert parquet["read"] == len(scores) and _labels(module_settings, "fiqa-parquet") == expected
    phrases = ingest(
        module_settings, exports["phrase_parquet"], corpus="phrasebank-parquet", show_progress=False
    )
    assert phrases["connector"] == "labelled"
    assert _labels(module_settings, "phrasebank-parquet") == Counter(p.label for p in exports["phrases"])


def test_split_files_of_unrelated_sets_do_not_share_a_corpus(
    module_settings: Settings, exports: dict[str, Any]
) -> None:
    folder: Path = exports["folder"]
    bank = folder / "bank" / "test.csv"
    bank.parent.mkdir()
    lines = shared_path("support", "banking77", "train.csv").read_text(encoding="utf-8").splitlines()
    bank.write_text("\n".join(lines[:1500]) + "\n", encoding="utf-8")
    ecd = folder / "ecd" / "test.txt"
    ecd.parent.mkdir()
    ecd.write_bytes(shared_path("zh", "ecd_taobao_customer_service", "train.txt").read_bytes())
    first = ingest(module_settings, bank, show_progress=False)
    second = ingest(module_settings, ecd, show_progress=False)
    assert (first["corpus"], second["corpus"]) == ("banking77", "ecd")
    assert second["version"] == 1 and second["connector"] == EcdConnector.name
    with pytest.raises(ConnectorError, match="--corpus"):
        ingest(module_settings, ecd, corpus="banking77", show_progress=False)
    with Session(get_engine(module_settings)) as session:
        corpus = session.exec(select(Corpus).where(Corpus.name == "banking77")).one()
        versions = session.exec(select(CorpusVersion).where(CorpusVersion.corpus_id == corpus.id)).all()
    assert [v.version for v in versions] == [1] and corpus.connector == "banking77"


def test_dry_run_of_the_export_writes_nothing(module_settings: Settings, exports: dict[str, Any]) -> None:
    def counts() -> tuple[int, ...]:
        with Session(get_engine(module_settings)) as session:
            return (
                int(session.exec(select(func.count()).select_from(Document)).one()),
                int(session.exec(select(func.count()).select_from(Corpus)).one()),
                int(session.exec(select(func.count()).select_from(CorpusVersion)).one()),
            )

    before = counts()
    dry = preview(module_settings, exports["csv"], corpus="helpdesk-dry")
    assert counts() == before
    assert dry["connector"] == "conversation" and not dry["corpus_exists"]
    assert dry["would_load"] == 1079 and dry["read"] == exports["messages"] and len(dry["records"]) == 5
    assert dry["mapping"]["conversation"] == "ticket_id" and dry["mapping"]["role"] == "author_role"
