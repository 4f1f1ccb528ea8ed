"""Property tests of the table readers: every format gives back what was written, and
whatever the bytes, a generic connector either names the problem or accounts for every row."""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infinstruct.connectors.conversation import ConversationConnector
from infinstruct.connectors.labelled import GenericLabelledConnector
from infinstruct.connectors.records import DocumentRecord, Quarantined
from infinstruct.connectors.tabular import flatten, table_rows
from infinstruct.core.errors import InfinstructError

#: Printable text in several scripts, with the characters that break naive CSV writers.
TEXT = st.text(
    alphabet=st.characters(
        categories=("L", "N", "P", "S", "Zs"), include_characters=',"\n;|\t', exclude_characters="\r"
    ),
    max_size=40,
)
FIELDS = ("text", "label", "note")
ROWS = st.lists(st.fixed_dictionaries({f: TEXT for f in FIELDS}), min_size=1, max_size=12)
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _write(rows: list[dict[str, str]], fmt: str, folder: Path) -> Path:
    path = folder / f"rows.{fmt}"
    if fmt == "csv":
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=FIELDS)
            writer.writeheader()
            writer.writerows(rows)
    elif fmt == "json":
        path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    elif fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@FAST
@given(rows=ROWS, fmt=st.sampled_from(["csv", "json", "jsonl", "parquet"]))
def test_every_format_reads_back_what_was_written(rows: list[dict[str, str]], fmt: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(rows, fmt, Path(folder))
        got = [row for _, row in table_rows(path)]
    if fmt == "csv":  # an all-empty single-column line is no row in CSV; ours have three columns
        got = [r for r in got if isinstance(r, dict)]
    assert got == rows


NESTED: st.SearchStrategy[Any] = st.recursive(
    st.one_of(st.integers(), TEXT, st.booleans(), st.none()),
    lambda inner: st.dictionaries(st.text("abcxyz", min_size=1, max_size=3), inner, max_size=3),
    max_leaves=10,
)


@FAST
@given(obj=st.dictionaries(st.text("abcxyz", min_size=1, max_size=3), NESTED, max_size=4))
def test_dotted_paths_reach_every_leaf(obj: dict[str, Any]) -> None:
    flat = flatten(obj)
    for key, value in flat.items():
        node: Any = obj
        for part in key.split("."):
            node = node[part]
        assert node == value and not isinstance(value, dict)


MESSAGES = st.lists(
    st.tuples(
        st.sampled_from(["c1", "c2", "c3", ""]),
        st.sampled_from(["customer", "agent", "admin", "robot", ""]),
        st.sampled_from(["hello", "", "  ", "<p>hi</p>", "退款"]),
    ),
    min_size=1,
    max_size=25,
)


@FAST
@given(messages=MESSAGES, junk=st.lists(st.sampled_from(["{not json", "[1, 2]", '"text"']), max_size=3))
def test_conversations_account_for_every_row(messages: list[tuple[str, str, str]], junk: list[str]) -> None:
    lines = [json.dumps({"conversation_id": c, "role": r, "text": t}) for c, r, t in messages] + junk
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chats.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        items = list(ConversationConnector().read(path))
    dialogues = [i for i in items if isinstance(i, DocumentRecord)]
    quarantined = [i for i in items if isinstance(i, Quarantined)]
    # Each row is in exactly one dialogue's rows or quarantined on its own line.
    assert sum(d.source_rows for d in dialogues) + len(quarantined) == len(lines)
    assert len({q.line for q in quarantined}) == len(quarantined)
    for dialogue in dialogues:
        assert dialogue.meta["turns"] and all(
            t["role"] in ("customer", "agent") for t in dialogue.meta["turns"]
        )


@FAST
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".csv", ".json", ".jsonl", ".parquet"]))
def test_any_bytes_give_records_or_a_named_error(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(data)
        connector = GenericLabelledConnector({"text": "text", "label": "label"})
        try:
            items = list(connector.read(path))
        except InfinstructError as exc:
            assert "upload" in str(exc)  # names the file
            return
    assert all(isinstance(i, DocumentRecord | Quarantined) for i in items)


@FAST
@given(
    score=st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    low=st.floats(min_value=-1, max_value=1, allow_nan=False),
    width=st.floats(min_value=0, max_value=1, allow_nan=False),
)
def test_a_score_becomes_one_scheme_label_by_the_thresholds(score: float, low: float, width: float) -> None:
    from infinstruct.connectors import sentiment

    high = low + width
    label, kept = sentiment.to_label(score, column="sentiment", thresholds=(low, high))
    assert kept == score
    assert label == ("negative" if score < low else "positive" if score > high else "neutral")
    # Whole numbers written as text stay codes unless thresholds say they are scores.
    assert sentiment.to_label("1", column="label") == ("positive", None)
    assert sentiment.to_label(str(int(score)), column="label", thresholds=(low, high))[1] == int(score)
