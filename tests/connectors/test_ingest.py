"""Loading behaviour: idempotence, versions, quarantine, --strict, rollback, the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from sqlmodel import Session, col, func, select
from typer.testing import CliRunner

from infinstruct.cli import app
from infinstruct.connectors.corpora import rollback
from infinstruct.connectors.ingest import ingest
from infinstruct.core.db import get_engine
from infinstruct.core.errors import ConnectorError, NotFoundError, QuarantineError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import Chunk, CorpusVersion, Document, InstructionSet, Quarantine
from tests.connectors.conftest import FIXTURES, SAMPLES


def _count(settings: Settings, *where: object) -> int:
    with Session(get_engine(settings)) as session:
        return int(session.exec(select(func.count()).select_from(Document).where(*where)).one())


def test_reload_is_a_noop_and_a_changed_file_is_a_new_version(settings: Settings, tmp_path: Path) -> None:
    source = tmp_path / "reviews.csv"
    source.write_text("label,review\n1,great food\n0,cold and late\n", encoding="utf-8")
    first = ingest(settings, source, show_progress=False)
    assert (first["version"], first["loaded"], first["connector"]) == (1, 2, "labelled")
    again = ingest(settings, source, show_progress=False)
    assert again["loaded"] == 0 and again["unchanged"] and again["version"] == 1

    source.write_text("label,review\n1,great food\n0,cold and late\n1,friendly driver\n", encoding="utf-8")
    changed = ingest(settings, source, show_progress=False)
    assert (changed["version"], changed["loaded"], changed["duplicates"]) == (2, 1, 2)
    assert _count(settings) == 3


def test_report_contract_and_skipped_files(settings: Settings) -> None:
    report = ingest(settings, SAMPLES / "abcd", show_progress=False)
    for key in (
        "corpus",
        "version",
        "read",
        "loaded",
        "duplicates",
        "quarantined",
        "quarantine_reasons",
        "skipped",
    ):
        assert key in report
    assert report["corpus"] == "abcd" and report["loaded"] == 3
    assert {s["file"] for s in report["skipped"]} == {"kb.json", "ontology.json"}
    doc = _first(settings, kind="dialogue")
    assert doc.meta["actions"] and doc.meta["flow"] and doc.meta["kb_steps"]
    assert all(t["role"] in ("customer", "agent") for t in doc.meta["turns"])


def _first(settings: Settings, **where: object) -> Document:
    with Session(get_engine(settings)) as session:
        query = select(Document)
        for key, value in where.items():
            query = query.where(getattr(Document, key) == value)
        found = session.exec(query).first()
        assert found is not None
        return found


def test_chat_jsonl_quarantines_bad_lines_and_scrubs_pii(settings: Settings) -> None:
    report = ingest(settings, FIXTURES / "chat_openai.jsonl", show_progress=False)
    assert (report["loaded"], report["quarantined"]) == (2, 2)
    with Session(get_engine(settings)) as session:
        bad = session.exec(select(Quarantine).order_by(col(Quarantine.line))).all()
    assert [b.line for b in bad] == [3, 4] and "not json at all" in bad[1].raw
    pin = _first(settings, external_id="c2")
    assert "<PHONE>" in pin.text and "555-0134" not in pin.text
    assert _first(settings, external_id="c1").meta["system"] == "You are a bank assistant."


def test_sharegpt_and_language(settings: Settings) -> None:
    ingest(settings, FIXTURES / "chat_sharegpt.jsonl", show_progress=False)
    langs = {d.lang for d in _all(settings)}
    assert langs == {"zh", "en"}


def _all(settings: Settings) -> list[Document]:
    with Session(get_engine(settings)) as session:
        return list(session.exec(select(Document)).all())


def test_atom_feed_and_near_duplicates(settings: Settings) -> None:
    report = ingest(settings, FIXTURES / "atom.xml", corpus="desk", show_progress=False)
    assert report["connector"] == "feed" and report["loaded"] == 3 and report["near_duplicates"] == 1
    docs = {d.meta["guid"]: d for d in _all(settings)}
    first, wire = docs["urn:example:markets:1"], docs["urn:example:wire:77"]
    assert wire.near_dup_of == first.id and first.text == "Acme Corp beat estimates; $ACME rose 8%."
    assert docs["urn:example:markets:2"].published_at is not None


def test_stray_carriage_returns_do_not_split_records(settings: Settings) -> None:
    report = ingest(settings, FIXTURES / "stray_cr.csv", show_progress=False)
    assert (report["loaded"], report["quarantined"]) == (3, 0)
    texts = sorted(d.text for d in _all(settings))
    assert texts == ["cold soup, late driver", "fast delivery and hot food", "good value"]


def test_strict_stops_at_the_first_bad_record(settings: Settings) -> None:
    with pytest.raises(QuarantineError, match="line 3"):
        ingest(settings, FIXTURES / "chat_openai.jsonl", strict=True, show_progress=False)
    with Session(get_engine(settings)) as session:
        assert session.exec(select(CorpusVersion.status)).one() == "failed"


def test_unknown_file_names_the_candidates(settings: Settings, tmp_path: Path) -> None:
    junk = tmp_path / "junk.dat"
    junk.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(ConnectorError, match="no connector recognises .*junk.dat.*expects"):
        ingest(settings, junk, show_progress=False)
    with pytest.raises(ConnectorError, match="no connector named 'nope'"):
        ingest(settings, FIXTURES / "atom.xml", connector="nope", show_progress=False)


def test_rollback_marks_documents_chunks_and_instruction_sets_stale(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "banking77"
    shutil.copytree(SAMPLES / "banking77", folder)
    ingest(settings, folder, show_progress=False)
    with Session(get_engine(settings)) as session:
        doc = session.exec(select(Document)).first()
        assert doc is not None
        session.add(Chunk(document_id=doc.id, text=doc.text, content_hash="x"))
        session.add(
            InstructionSet(
                name="default",
                version=1,
                input_hash="h",
                lineage={"corpus_versions": [{"corpus": "banking77", "version": 1}]},
            )
        )
        session.add(InstructionSet(name="other", version=1, input_hash="h", lineage={}))
        session.commit()
    result = rollback(settings, "banking77", 1)
    assert (
        result["documents"] == 304 and result["chunks"] == 1 and result["instruction_sets"] == ["default v1"]
    )
    assert _count(settings, col(Document.stale).is_(False)) == 0
    with pytest.raises(NotFoundError):
        rollback(settings, "banking77", 9)
    # Loading the same content again brings the documents back under a new version.
    again = ingest(settings, folder, show_progress=False)
    assert again["version"] == 2 and again["loaded"] == 304
    assert _count(settings, col(Document.stale).is_(False)) == 304


def test_cli_ingest_json_and_corpus_commands(settings: Settings, cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    path = str(SAMPLES / "twitter_financial_news" / "sent_train.csv")
    result = runner.invoke(
        app, ["ingest", path, "--corpus", "tfn", "--domain", "markets", "--json"], env=cli_env
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["corpus"] == "tfn" and report["domain"] == "markets" and report["loaded"] == 319
    again = runner.invoke(app, ["ingest", path, "--corpus", "tfn", "--json"], env=cli_env)
    assert json.loads(again.stdout)["loaded"] == 0

    listed = runner.invoke(app, ["corpus", "list", "--json"], env=cli_env)
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)[0]["name"] == "tfn"
    shown = runner.invoke(app, ["corpus", "show", "tfn", "--json"], env=cli_env)
    assert json.loads(shown.stdout)["documents"] == {"labelled": 319}
    rolled = runner.invoke(app, ["corpus", "rollback", "tfn", "1", "--json"], env=cli_env)
    assert rolled.exit_code == 0 and json.loads(rolled.stdout)["documents"] == 319

    bad = runner.invoke(app, ["ingest", str(FIXTURES / "invalid.xml")], env=cli_env)
    assert bad.exit_code == 2 and "not well-formed XML" in bad.output
    mapped = runner.invoke(
        app, ["ingest", str(FIXTURES / "wrong_delimiter.csv"), "--map", "text"], env=cli_env
    )
    assert mapped.exit_code == 2 and "--map takes KEY=COLUMN" in mapped.output
    listing = runner.invoke(app, ["connectors", "--json"], env=cli_env)
    assert "twcs" in {c["name"] for c in json.loads(listing.stdout)}


def test_generic_columns_by_mapping(settings: Settings) -> None:
    report = ingest(
        settings,
        FIXTURES / "news_mapped.csv",
        connector="news",
        columns={"title": "title", "text": "body", "date": "published", "link": "url"},
        show_progress=False,
    )
    assert report["loaded"] == 1
    doc = _first(settings, kind="news")
    assert (
        doc.title == "Acme beats"
        and doc.meta["link"] == "https://x.example/1"
        and doc.published_at is not None
    )
