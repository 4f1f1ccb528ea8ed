"""Labelled text: BANKING77, Financial PhraseBank, FiQA, Twitter financial news, FinFE,
FinNSP and a generic labelled CSV/JSONL connector (auto-detected for ``label,review`` files).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from infinstruct.connectors import sentiment
from infinstruct.connectors.records import DocumentRecord, Item, Quarantined
from infinstruct.connectors.safeio import (
    DEFAULT_LIMITS,
    Limits,
    csv_header,
    csv_rows,
    load_json,
    looks_binary,
    peek,
    text_lines,
)
from infinstruct.connectors.tabular import cell_text, fields_with, find_field, table_fields, table_rows
from infinstruct.core.text import normalise


def row_group(text: str) -> str:
    """The stored ``group_key`` of a labelled row: the same sentence (case and spacing aside)
    in two files gets one key, hence one split (PhraseBank's nested agreement files).

    Stored with every document, so it must not change under a store: a different rule (the
    instruction builder's punctuation-blind ``core.text.sentence_key`` was tried) re-splits
    every labelled corpus on its next load and moved the alerts and continual-learning
    claims' real-data tests off their premises.
    """
    return hashlib.sha1(normalise(text).lower().encode("utf-8")).hexdigest()[:16]


def labelled(
    text: str,
    label: str | None,
    label_set: str,
    *,
    line: int | None = None,
    score: float | None = None,
    **meta: Any,
) -> DocumentRecord:
    return DocumentRecord(
        kind="labelled",
        text=text.strip(),
        label=label,
        score=score,
        group_key=row_group(text),
        meta={"label_set": label_set, **meta},
        line=line,
    )


def _csv_labelled(
    path: Path,
    text_col: str,
    label_col: str,
    label_set: str,
    mapper: Callable[[str], str | None],
    limits: Limits,
) -> Iterator[Item]:
    for number, row in csv_rows(path, limits=limits):
        if isinstance(row, str):
            yield Quarantined(str(path), "wrong number of columns", raw=row, line=number)
            continue
        text, raw_label = row.get(text_col, ""), row.get(label_col, "")
        label = mapper(raw_label)
        if not text.strip() or label is None:
            yield Quarantined(
                str(path), f"empty text or unknown label {raw_label!r}", raw=str(row), line=number
            )
            continue
        yield labelled(text, label, label_set, line=number)


class Banking77Connector:
    """BANKING77 ``text,category``; ``categories.json`` beside it is the label list."""

    name = "banking77"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "support"
    expects = "CSV header text,category (+ categories.json with the intent names)"

    def detect(self, path: Path) -> float:
        target = path / "train.csv" if path.is_dir() else path
        if path.is_dir() and not (path / "categories.json").exists():
            return 0.0
        return 0.95 if target.is_file() and csv_header(target) == ["text", "category"] else 0.0

    def companions(self, path: Path) -> list[Path]:
        folder = path if path.is_dir() else path.parent
        return [p for p in [folder / "categories.json"] if p.exists()]

    def read(self, path: Path) -> Iterator[Item]:
        files = sorted(path.glob("*.csv")) if path.is_dir() else [path]
        cats = self.companions(path)
        known = set(load_json(cats[0], limits=self.limits)) if cats else None
        for file in files:
            if csv_header(file) != ["text", "category"]:
                continue
            yield from _csv_labelled(
                file,
                "text",
                "category",
                "intent",
                lambda raw: raw.strip() if raw.strip() and (known is None or raw.strip() in known) else None,
                self.limits,
            )


_PHRASEBANK_FILE = re.compile(r"Sentences_(AllAgree|\d+Agree)\.txt$")
_AGREEMENT = {"AllAgree": 100, "75Agree": 75, "66Agree": 66, "50Agree": 50}


class PhraseBankConnector:
    """Financial PhraseBank ``sentence@label`` lines (UTF-8 or Latin-1).

    The agreement files are nested (AllAgree ⊂ 75 ⊂ 66 ⊂ 50): a folder load keeps each
    sentence once, with the highest agreement level it appears at.
    """

    name = "phrasebank"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "finance"
    expects = "text lines 'sentence@positive|neutral|negative' (Sentences_*Agree.txt)"

    def detect(self, path: Path) -> float:
        files = self._files(path)
        if not files:
            return 0.0
        head = peek(files[0], 4096)
        if looks_binary(head):
            return 0.0
        first = head.decode("latin-1").splitlines()[:1]
        return 0.95 if first and re.search(r"@(positive|neutral|negative)\s*$", first[0]) else 0.0

    @staticmethod
    def _files(path: Path) -> list[Path]:
        if path.is_dir():
            return sorted(p for p in path.iterdir() if _PHRASEBANK_FILE.search(p.name))
        return [path] if path.suffix.lower() == ".txt" else []

    def read(self, path: Path) -> Iterator[Item]:
        best: dict[str, tuple[int, str, int, str]] = {}
        order: list[str] = []
        for file in self._files(path):
            match = _PHRASEBANK_FILE.search(file.name)
            agreement = _AGREEMENT.get(match.group(1), 0) if match else 0
            for number, line in text_lines(file, limits=self.limits):
                sentence, _, raw_label = line.rpartition("@")
                label = sentiment.map_label(raw_label, sentiment.NAMED)
                if not sentence.strip() or label is None:
                    if line.strip():
                        yield Quarantined(str(file), "expected 'sentence@label'", raw=line, line=number)
                    continue
                key = sentence.strip()
                if key not in best:
                    order.append(key)
                if key not in best or best[key][0] < agreement:
                    best[key] = (agreement, label, number, file.name)
        for key in order:
            agreement, label, number, file_name = best[key]
            yield labelled(key, label, "sentiment", line=number, agreement=agreement, file=file_name)


class FiqaConnector:
    """FiQA 2018 task 1 microblogs: ``{id: {sentence, info: [{sentiment_score, target}]}}``."""

    name = "fiqa"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "finance"
    expects = 'JSON object of {id: {"sentence", "info": [{"sentiment_score", "target"}]}}'

    def detect(self, path: Path) -> float:
        if path.is_dir() or path.suffix.lower() != ".json":
            return 0.0
        head = peek(path, 2048).decode("utf-8", errors="replace")
        return 0.95 if head.lstrip().startswith("{") and '"sentiment_score"' in head else 0.0

    def read(self, path: Path) -> Iterator[Item]:
        data = load_json(path, limits=self.limits)
        for index, (post_id, post) in enumerate(data.items() if isinstance(data, dict) else []):
            try:
                info = post["info"]
                scores = [float(i["sentiment_score"]) for i in info]
                score = sum(scores) / len(scores)
                tickers = [i["target"] for i in info if i.get("target")]
                text = post["sentence"]
            except (KeyError, TypeError, ValueError, ZeroDivisionError) as exc:
                yield Quarantined(
                    str(path), f"not a FiQA post: {exc}", raw=json.dumps(post)[:2000], offset=index
                )
                continue
            record = labelled(
                text,
                sentiment.score_label(score, sentiment.FIQA_THRESHOLDS),
                "sentiment",
                score=score,
                raw_score=score,
                tickers=tickers,
                post_id=post_id,
                aspects=[i.get("aspects", "") for i in info],
            )
            record.external_id = str(post_id)
            yield record


class TwitterFinancialNewsConnector:
    """Twitter financial news sentiment ``text,label`` (0 bearish, 1 bullish, 2 neutral)."""

    name = "twitter-fin-news"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "finance"
    expects = "CSV header text,label with label 0 bearish / 1 bullish / 2 neutral"

    def detect(self, path: Path) -> float:
        if path.is_dir() or csv_header(path) != ["text", "label"]:
            return 0.0
        sample = peek(path, 4096).decode("utf-8", errors="replace")
        # Both this and the waimai-style generic file have text+label; cashtags or
        # English tell this one apart.
        return 0.9 if ("$" in sample or "http" in sample) else 0.5

    def read(self, path: Path) -> Iterator[Item]:
        for item in _csv_labelled(
            path,
            "text",
            "label",
            "sentiment",
            lambda raw: sentiment.map_label(raw, sentiment.TWITTER_NEWS),
            self.limits,
        ):
            if isinstance(item, DocumentRecord):
                item.meta["tickers"] = re.findall(r"\$([A-Za-z]{1,6})\b", item.text)
            yield item


class FinFeConnector:
    """FinFE (Chinese): JSON array of ``[text, label]``, 0 negative 1 neutral 2 positive."""

    name = "finfe"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "finance"
    expects = "JSON array of [text, 0|1|2] pairs"

    def detect(self, path: Path) -> float:
        if path.is_dir() or path.suffix.lower() != ".json":
            return 0.0
        head = peek(path, 512).decode("utf-8", errors="replace").lstrip()
        return 0.9 if re.match(r'\[\s*\[\s*"[^"]*"\s*,\s*[012]\s*\]', head) else 0.0

    def read(self, path: Path) -> Iterator[Item]:
        data = load_json(path, limits=self.limits)
        for index, row in enumerate(data if isinstance(data, list) else []):
            ok = isinstance(row, list) and len(row) == 2 and isinstance(row[0], str)
            label = sentiment.map_label(row[1], sentiment.FINFE) if ok else None
            if not ok or label is None or not row[0].strip():
                yield Quarantined(
                    str(path), "expected [text, 0|1|2]", raw=json.dumps(row, ensure_ascii=False), offset=index
                )
                continue
            yield labelled(row[0], label, "sentiment", line=index + 1)


FINNSP_HEADER = ["id", "title", "text", "entity", "negative", "key_entity"]


class FinNspConnector:
    """FinNSP (Chinese): negative-entity labels, not sentiment. Rows are
    ``[id, title, text, entities, negative 0/1, key_entities]``; a header row can sit
    mid-file and is quarantined."""

    name = "finnsp"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "finance"
    expects = "JSON array of [id, title, text, 'a;b', '0|1', 'a'] rows"

    def detect(self, path: Path) -> float:
        if path.is_dir() or path.suffix.lower() != ".json":
            return 0.0
        head = peek(path, 8192).decode("utf-8", errors="replace").lstrip()
        return 0.9 if re.match(r'\[\s*\[\s*"[0-9a-f]{6,}"\s*,', head) else 0.0

    def read(self, path: Path) -> Iterator[Item]:
        data = load_json(path, limits=self.limits)
        for index, row in enumerate(data if isinstance(data, list) else []):
            good = isinstance(row, list) and len(row) == 6 and str(row[4]).strip() in ("0", "1")
            if not good:
                is_header = isinstance(row, list) and [str(c).lstrip("\ufeff") for c in row] == FINNSP_HEADER
                reason = "header row inside the data" if is_header else "expected 6 fields with negative 0/1"
                yield Quarantined(
                    str(path), reason, raw=json.dumps(row, ensure_ascii=False)[:2000], offset=index
                )
                continue
            doc_id, title, text, entities, negative, key_entities = (str(c) for c in row)
            record = labelled(
                text or title,
                "negative" if negative.strip() == "1" else "not_negative",
                "negative_entity",
                line=index + 1,
                title=title,
                entities=[e for e in entities.split(";") if e],
                negative_entities=[e for e in key_entities.split(";") if e],
            )
            record.external_id = doc_id
            yield record


#: Field names detection recognises, in order of preference.
TEXT_FIELDS = ("text", "review", "sentence", "content", "headline", "title", "body", "message", "tweet")
LABEL_FIELDS = ("label", "sentiment", "sentiment_score", "score", "polarity", "category", "intent", "class")


class GenericLabelledConnector:
    """Any CSV/TSV, JSON array, JSON lines or Parquet file with a text and a label field.

    ``--map text=FIELD --map label=FIELD`` names them (dotted paths reach nested JSON);
    otherwise common names are recognised (text/sentence/title/headline/review;
    label/sentiment/score/category/intent). Labels 0/1 map to negative/positive, sentiment
    words to the scheme, numeric scores through the thresholds (``--score-thresholds``,
    see ``sentiment.to_label``); anything else is kept as a custom label
    (``label_set`` = the label field's name).
    """

    name = "labelled"
    #: Set by ``registry`` from the load's settings; the settings' defaults otherwise.
    limits: Limits = DEFAULT_LIMITS
    domain = "labelled"
    expects = (
        "CSV/TSV, JSON array, JSONL or Parquet with text and label fields (e.g. label,review or "
        "title,sentiment); --map text=FIELD --map label=FIELD"
    )

    def __init__(
        self, columns: dict[str, str] | None = None, *, score_thresholds: tuple[float, float] | None = None
    ) -> None:
        self.columns = columns or {}
        self.score_thresholds = score_thresholds

    def _cols(self, header: list[str]) -> tuple[str, str] | None:
        text = self.columns.get("text") or find_field(header, *TEXT_FIELDS)
        label = self.columns.get("label") or find_field(header, *LABEL_FIELDS)
        return (text, label) if text in header and label in header else None

    def mapping(self, path: Path) -> dict[str, str]:
        cols = self._cols(table_fields(path))
        return {"text": cols[0], "label": cols[1]} if cols else {}

    def detect(self, path: Path) -> float:
        header = table_fields(path)
        if not header or not self._cols(header):
            return 0.0
        if self.columns:
            return 0.7
        return 0.7 if len(header) <= 4 else 0.55

    def read(self, path: Path) -> Iterator[Item]:
        cols: tuple[str, str] | None = None
        known = table_fields(path)
        for number, row in table_rows(path, limits=self.limits):
            if isinstance(row, str):
                yield Quarantined(
                    str(path), "wrong number of columns or not a JSON object", raw=row, line=number
                )
                continue
            cols = cols or self._cols(fields_with(known, row))
            if cols is None:
                raise_columns(path, fields_with(known, row), "text and label", self.columns)
            assert cols is not None
            text = cell_text(row.get(cols[0]))
            label, score = sentiment.to_label(
                row.get(cols[1]), column=cols[1], thresholds=self.score_thresholds
            )
            if not text.strip() or label is None:
                yield Quarantined(
                    str(path), "empty text or label", raw=json.dumps(row, default=str)[:2000], line=number
                )
                continue
            in_scheme = label in ("negative", "neutral", "positive")
            extra = {"raw_score": score} if score is not None else {}
            yield labelled(
                text, label, "sentiment" if in_scheme else cols[1], line=number, score=score, **extra
            )


def raise_columns(path: Path, header: list[str], wanted: str, mapping: dict[str, str]) -> None:
    from infinstruct.core.errors import ConnectorError

    raise ConnectorError(
        f"{path}: cannot find the {wanted} columns in {header} (mapping {mapping or 'none'}); "
        "name them with --map KEY=FIELD (dotted paths reach nested JSON fields)"
    )
