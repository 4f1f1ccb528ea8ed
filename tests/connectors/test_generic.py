"""The generic connectors on operators' own files: helpdesk exports, JSON arrays with scores,
Parquet, ``--map``/``--agent-roles``/``--score-thresholds``, ``--dry-run``, corpus names."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select
from typer.testing import CliRunner

from infinstruct.cli import app
from infinstruct.connectors.ingest import ingest
from infinstruct.connectors.preview import preview
from infinstruct.core.db import get_engine
from infinstruct.core.errors import ConnectorError, InputError, LimitError
from infinstruct.core.settings import Settings, load_settings
from infinstruct.core.tables import Document, Quarantine
from tests.connectors.conftest import FIXTURES, SAMPLES


def _docs(settings: Settings, corpus_kind: str = "dialogue") -> dict[str, Document]:
    with Session(get_engine(settings)) as session:
        rows = session.exec(select(Document).where(Document.kind == corpus_kind)).all()
    return {str(d.external_id): d for d in rows}


def _roles(doc: Document) -> list[str]:
    return [t["role"] for t in doc.meta["turns"]]


def test_zendesk_export_groups_orders_and_keeps_notes(settings: Settings) -> None:
    report = ingest(settings, FIXTURES / "zendesk_comments.csv", show_progress=False)
    assert report["connector"] == "conversation" and report["kinds"] == {"dialogue": 3}
    assert report["quarantine_reasons"] == {
        "empty conversation id": 1,
        "wrong number of columns or not a JSON object": 1,
        "unknown author role 'robot'; name the agent roles with --agent-roles (e.g. agent,admin)": 1,
    }
    assert report["read"] == 11  # every data row is a turn, a note or quarantined: none lost
    docs = _docs(settings)
    refund = docs["5001"]
    # Rows were out of order in the file; time puts the follow-up last, the note aside.
    assert _roles(refund) == ["customer", "agent", "customer"]
    assert refund.meta["turns"][-1]["text"] == "Thanks, I see the refund now."
    assert refund.meta["notes"][0]["text"].startswith("Refund issued") and "internal" not in refund.text
    assert refund.group_key == "conversation:5001" and refund.meta["export"] == "zendesk"
    zh = docs["5003"]
    assert zh.lang == "zh" and zh.text.startswith("customer: 我的快递")


def test_intercom_nested_json_and_freshdesk_jsonl(settings: Settings) -> None:
    intercom = ingest(settings, FIXTURES / "intercom_parts.json", show_progress=False)
    assert intercom["kinds"] == {"dialogue": 2} and intercom["quarantined"] == 0
    fresh = ingest(settings, FIXTURES / "freshdesk_conversations.jsonl", show_progress=False)
    assert fresh["kinds"] == {"dialogue": 2} and fresh["quarantined"] == 1
    docs = _docs(settings)
    first = docs["ic-1"]
    assert _roles(first) == ["customer", "agent"] and first.meta["empty_rows"] == 1
    assert first.meta["turns"][1]["text"] == "Thanks for reporting it — update to 4.2.1 and it stops."
    assert first.meta["notes"][0]["text"] == "Known bug, ticket ENG-42."
    assert _roles(docs["ic-2"]) == ["customer", "agent"]  # a lead writes, a bot answers
    assert _roles(docs["77"]) == ["customer", "agent"] and docs["77"].meta["notes"]


def test_mapping_and_agent_roles_through_the_cli(
    settings: Settings, cli_env: dict[str, str], tmp_path: Path
) -> None:
    export = tmp_path / "chats.tsv"
    export.write_text(
        "Case\tWho\tSaid\tWhen\n"
        "c1\tshopper\tIs the blue kettle back in stock?\t2024-01-01 10:00\n"
        "c1\tstore\tYes, since Monday.\t2024-01-01 10:02\n"
        "c2\tshopper\tCan I return an opened kettle?\t2024-01-02 09:00\n"
        "c2\tstore\tWithin 30 days, yes.\t2024-01-02 09:01\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    unknown = runner.invoke(app, ["ingest", str(export)], env=cli_env)
    assert unknown.exit_code == 2 and "--connector" in unknown.output
    args = ["ingest", str(export), "--map", "conversation=Case", "role=Who", "text=Said", "time=When"]
    roles = runner.invoke(app, [*args, "--json"], env=cli_env)
    assert roles.exit_code == 0, roles.output
    unmapped_roles = json.loads(roles.stdout)
    # "shopper"/"store" are no known role names: every row is quarantined, naming the flag.
    assert unmapped_roles["quarantined"] == 4 and unmapped_roles["loaded"] == 0
    assert all("--agent-roles" in reason for reason in unmapped_roles["quarantine_reasons"])
    loaded = runner.invoke(
        app, [*args, "--agent-roles", "store", "--corpus", "shop-chats", "--json"], env=cli_env
    )
    assert loaded.exit_code == 0, loaded.output
    report = json.loads(loaded.stdout)
    assert report["kinds"] == {"dialogue": 2} and report["quarantined"] == 0
    assert _roles(_docs(settings)["c1"]) == ["customer", "agent"]


def test_json_array_with_scores_and_thresholds(settings: Settings) -> None:
    report = ingest(settings, FIXTURES / "headlines_scores.json", corpus="heads", show_progress=False)
    assert report["connector"] == "labelled" and report["quarantined"] == 2
    labels = _labels(settings)
    assert labels["ACME beats estimates and raises guidance"] == ("positive", pytest.approx(0.43))
    assert labels["Globex shares slide after profit warning"][0] == "negative"
    assert labels["Umbrella edges higher in quiet trade"][0] == "neutral"  # 0.04 is inside ±0.05
    wide = preview(settings, FIXTURES / "headlines_scores.json", score_thresholds=(-0.5, 0.5))
    assert sorted(r["label"] for r in wide["records"]) == ["negative", "neutral", "neutral", "neutral"]


def _labels(settings: Settings) -> dict[str, tuple[str | None, float | None]]:
    with Session(get_engine(settings)) as session:
        return {d.text: (d.label, d.score) for d in session.exec(select(Document)).all()}


def test_parquet_with_nested_fields(settings: Settings, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table(
        {
            "thread": ["t1", "t1", "t2", "t2"],
            "msg": [
                {"body": "Where is my order?", "sender": {"kind": "user"}},
                {"body": "It ships today.", "sender": {"kind": "agent"}},
                {"body": "订单什么时候发货？", "sender": {"kind": "user"}},
                {"body": "今天发货。", "sender": {"kind": "agent"}},
            ],
            "at": pa.array([1, 2, 3, 4], pa.timestamp("s")),
        }
    )
    path = tmp_path / "messages.parquet"
    pq.write_table(table, path)
    mapping = {"conversation": "thread", "role": "msg.sender.kind", "text": "msg.body", "time": "at"}
    dry = preview(settings, path, columns=mapping)
    assert dry["connector"] == "conversation" and dry["mapping"]["role"] == "msg.sender.kind"
    report = ingest(settings, path, columns=mapping, show_progress=False)
    assert report["kinds"] == {"dialogue": 2} and report["loaded"] == dry["would_load"] == 2
    scores = tmp_path / "scores.parquet"
    pq.write_table(pa.table({"headline": ["Up big", "Down hard", "Flat"], "score": [0.3, -0.2, 0.0]}), scores)
    labelled = ingest(settings, scores, show_progress=False)
    assert labelled["connector"] == "labelled" and labelled["kinds"] == {"labelled": 3}
    assert _labels(settings)["Down hard"] == ("negative", pytest.approx(-0.2))


def test_damaged_parquet_is_refused_by_name(settings: Settings, tmp_path: Path) -> None:
    fake = tmp_path / "export.parquet"
    fake.write_bytes(b"PAR1" + b"\x00" * 64)
    with pytest.raises(ConnectorError, match="export.parquet"):
        ingest(settings, fake, connector="labelled", show_progress=False)


def _store_fingerprint(settings: Settings) -> str:
    """Every row of every table, and the names of the data dir's other files.

    SQLite's -wal/-shm side files appear whenever a connection reads; they are not writes.
    """
    digest = hashlib.sha256()
    db = Path(settings.data_dir) / "infinstruct.db"
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        for line in conn.iterdump():
            digest.update(line.encode())
    for path in sorted(Path(settings.data_dir).rglob("*")):
        if not path.name.startswith("infinstruct.db"):
            digest.update(str(path).encode())
    return digest.hexdigest()


def test_dry_run_writes_nothing_and_predicts_the_load(settings: Settings, cli_env: dict[str, str]) -> None:
    source = FIXTURES / "zendesk_comments.csv"
    before = _store_fingerprint(settings)
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(source), "--dry-run", "--json"], env=cli_env)
    assert result.exit_code == 0, result.output
    dry: dict[str, Any] = json.loads(result.stdout)
    assert _store_fingerprint(settings) == before
    assert dry["dry_run"] and dry["connector"] == "conversation" and dry["confidence"] >= 0.8
    assert dry["mapping"] == {
        "conversation": "ticket_id",
        "role": "author_role",
        "text": "body",
        "time": "created_at",
        "author": "author_id",
        "note": "public",
    }
    assert len(dry["records"]) == 3 and dry["records"][0]["meta"]["turns"]
    real = ingest(settings, source, show_progress=False)
    for key in ("read", "quarantined", "quarantine_reasons", "kinds", "duplicates"):
        assert dry[key] == real[key], key
    assert dry["would_load"] == real["loaded"]
    assert dry["records"][0]["id"] == _docs(settings)["5001"].id  # shown as stored
    again = preview(settings, source)
    assert again["corpus_exists"] and again["would_load"] == 0 and again["duplicates"] == 3


def test_dry_run_does_not_create_a_store(tmp_path: Path) -> None:
    fresh = load_settings(data_dir=tmp_path / "nothing-here")
    report = preview(fresh, SAMPLES / "abcd")
    assert report["would_load"] == 3 and not (tmp_path / "nothing-here" / "infinstruct.db").exists()


def test_split_files_get_the_connector_name_and_collisions_are_refused(
    settings: Settings, tmp_path: Path
) -> None:
    banking = tmp_path / "bank" / "test.csv"
    banking.parent.mkdir()
    banking.write_text(
        (SAMPLES / "banking77" / "train.csv").read_text(encoding="utf-8")[:3000].rsplit("\n", 1)[0] + "\n",
        encoding="utf-8",
    )
    chat = tmp_path / "shop" / "test.jsonl"
    chat.parent.mkdir()
    chat.write_text((FIXTURES / "chat_sharegpt.jsonl").read_text(encoding="utf-8"), encoding="utf-8")
    first = ingest(settings, banking, connector="labelled", show_progress=False)
    second = ingest(settings, chat, show_progress=False)
    assert (first["corpus"], second["corpus"]) == ("labelled", "chat-jsonl")
    with pytest.raises(ConnectorError, match="--corpus") as refused:
        ingest(settings, chat, corpus="labelled", show_progress=False)
    assert "chat-jsonl" in str(refused.value) and "labelled" in str(refused.value)
    with pytest.raises(ConnectorError, match="domain finance"):
        ingest(settings, banking, connector="labelled", domain="finance", show_progress=False)
    dry = preview(settings, chat, corpus="labelled")
    assert dry["refused"] and "--corpus" in dry["refused"]
    with Session(get_engine(settings)) as session:
        assert not session.exec(select(Quarantine)).all()


def test_bad_thresholds_and_mapping_are_named(cli_env: dict[str, str]) -> None:
    runner = CliRunner()
    path = str(FIXTURES / "headlines_scores.json")
    bad = runner.invoke(app, ["ingest", path, "--score-thresholds", "0.5,-0.5", "--dry-run"], env=cli_env)
    assert bad.exit_code == 2 and "--score-thresholds" in bad.output and "0.5,-0.5" in bad.output
    with pytest.raises(InputError, match="LOW,HIGH"):
        from infinstruct.connectors.sentiment import parse_thresholds

        parse_thresholds("zero")
    missing = runner.invoke(
        app,
        ["ingest", path, "--connector", "conversation", "--map", "conversation=company", "--dry-run"],
        env=cli_env,
    )
    assert missing.exit_code == 2 and "--map conversation=FIELD" in missing.output


def test_the_issues_ticket_export_and_a_mixed_news_drop_folder(settings: Settings, tmp_path: Path) -> None:
    tickets = tmp_path / "tickets.csv"
    tickets.write_text(
        "ticket_id,author_role,body,created_at\n"
        "1,end-user,My invoice shows the wrong VAT number.,2024-02-01T08:00:00Z\n"
        "1,agent,Fixed; a corrected invoice is on its way.,2024-02-01T08:30:00Z\n",
        encoding="utf-8",
    )
    dry = preview(settings, tickets)
    assert dry["connector"] == "conversation" and dry["confidence"] >= 0.8 and dry["would_load"] == 1
    assert dry["candidates"][0] == {"connector": "conversation", "confidence": dry["confidence"]}
    # A news drop folder mixes feeds and news files; both are news and share the corpus.
    from infinstruct.connectors.fetch import load_feed

    drop = tmp_path / "drop"
    drop.mkdir()
    for name in ("atom.xml", "news_mapped.csv"):
        (drop / name).write_bytes((FIXTURES / name).read_bytes())
    loaded = load_feed(settings, drop, corpus="desk")
    assert [r["connector"] for r in loaded["reports"]] == ["feed", "news"] and loaded["loaded"] == 4


def test_a_parquet_that_decodes_far_past_its_size_is_refused(settings: Settings, tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from infinstruct.connectors.safeio import MIB

    bomb = tmp_path / "reviews.parquet"
    # 6 MiB of one repeated review compresses to a few KiB: far past 200x the file's size.
    pq.write_table(pa.table({"review": ["great " * 1024] * 1024, "label": ["1"] * 1024}), bomb)
    assert bomb.stat().st_size * 200 < 6 * MIB
    with pytest.raises(LimitError, match="max_decompressed_ratio"):
        ingest(settings, bomb, show_progress=False)


def test_console_preview_is_the_dry_run_inside_the_import_roots(
    settings: Settings, cli_env: dict[str, str]
) -> None:
    from infinstruct import services

    source = FIXTURES / "intercom_parts.json"
    with pytest.raises(InputError, match="import roots"):
        services.preview_ingest(settings, source)
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    upload = settings.uploads_dir / "intercom_parts.json"
    upload.write_bytes(source.read_bytes())
    console = services.preview_ingest(
        settings, upload, connector="conversation", agent_roles=["admin", "bot"]
    )
    result = CliRunner().invoke(
        app,
        [
            "ingest",
            str(upload),
            "--connector",
            "conversation",
            "--agent-roles",
            "admin,bot",
            "--dry-run",
            "--json",
        ],
        env=cli_env,
    )
    cli = json.loads(result.stdout)
    assert console.keys() == cli.keys() and console["records"] == cli["records"]
    assert console["would_load"] == 2 and console["units"][0]["forced"]


def test_pii_is_scrubbed_from_turns_notes_and_authors(settings: Settings, tmp_path: Path) -> None:
    export = tmp_path / "comments.csv"
    export.write_text(
        "ticket_id,author_id,author_role,body,public\n"
        "9,jane.doe@example.com,end-user,Call me on +1 415 555 0134 please,true\n"
        "9,17,agent,Calling you now.,true\n"
        "9,17,agent,Customer is jane.doe@example.com,false\n",
        encoding="utf-8",
    )
    ingest(settings, export, scrub_pii=True, show_progress=False)
    doc = _docs(settings)["9"]
    stored = json.dumps(doc.meta) + doc.text
    assert "jane.doe@example.com" not in stored and "555 0134" not in stored
    assert doc.meta["turns"][0]["author"] == "<EMAIL>" and "<EMAIL>" in doc.meta["notes"][0]["text"]


def test_a_misspelt_map_key_is_named(settings: Settings) -> None:
    with pytest.raises(InputError, match="'converstion'.*conversation"):
        preview(settings, FIXTURES / "zendesk_comments.csv", columns={"converstion": "ticket_id"})


def test_without_a_role_field_the_first_author_is_the_customer(settings: Settings, tmp_path: Path) -> None:
    export = tmp_path / "comments.json"
    rows = [
        {
            "ticket_id": 3,
            "author_id": 501,
            "plain_body": "Still waiting for my refund.",
            "created_at": "2024-04-02T09:00:00Z",
        },
        {
            "ticket_id": 3,
            "author_id": 77,
            "plain_body": "It was sent this morning.",
            "created_at": "2024-04-02T09:30:00Z",
        },
        {
            "ticket_id": 3,
            "author_id": 501,
            "plain_body": "Got it, thanks!",
            "created_at": "2024-04-02T11:00:00Z",
        },
        {
            "ticket_id": 3,
            "author_id": 78,
            "plain_body": "Glad to help.",
            "created_at": "2024-04-02T11:05:00Z",
        },
    ]
    export.write_text(json.dumps(rows[::-1]), encoding="utf-8")  # newest first, as some APIs page
    report = ingest(settings, export, show_progress=False)
    assert report["connector"] == "conversation" and report["kinds"] == {"dialogue": 1}
    assert _roles(_docs(settings)["3"]) == ["customer", "agent", "customer", "agent"]


def test_field_names_are_recognised_whatever_their_spelling(settings: Settings, tmp_path: Path) -> None:
    tickets = tmp_path / "Tickets Export.csv"
    tickets.write_text(
        "Ticket ID,Author Role,Body,Created At\n"
        "A-1,End-user,The app crashes on start.,2024-06-01 10:00\n"
        "A-1,Agent,Please reinstall version 3.2.,2024-06-01 10:10\n",
        encoding="utf-8",
    )
    dry = preview(settings, tickets)
    assert dry["connector"] == "conversation" and dry["mapping"]["conversation"] == "Ticket ID"
    assert dry["records"][0]["meta"]["turns"][1]["role"] == "agent"
    heads = tmp_path / "heads.csv"
    heads.write_text("Headline,Sentiment\nShares soar,0.7\nShares sink,-0.4\n", encoding="utf-8")
    labels = preview(settings, heads)
    assert labels["connector"] == "labelled" and [r["label"] for r in labels["records"]] == [
        "positive",
        "negative",
    ]


def test_a_record_missing_a_field_is_quarantined_not_the_file(settings: Settings, tmp_path: Path) -> None:
    heads = tmp_path / "scores.json"
    heads.write_text(
        json.dumps(
            [
                {"title": "No score on this one"},
                {"title": "Up", "score": 0.3},
                {"title": "Down", "score": -0.3},
            ]
        ),
        encoding="utf-8",
    )
    report = preview(settings, heads)
    assert report["connector"] == "labelled" and report["would_load"] == 2
    assert report["quarantine_reasons"] == {"empty text or label": 1}
    chats = tmp_path / "chats.jsonl"
    chats.write_text(
        '{"conversation_id": "x", "role": "user", "text": "hi"}\n'
        '{"conversation_id": "x", "role": "agent", "text": "hello", "timestamp": "2024-01-01T00:00:00Z"}\n',
        encoding="utf-8",
    )
    conversation = preview(settings, chats)
    assert conversation["mapping"]["time"] == "timestamp" and conversation["would_load"] == 1
    assert conversation["records"][0]["meta"]["order"] == "row"  # one message has no time
