"""Export -> import is lossless in every format, and LLaMA-Factory's loader rules accept the files.

``_llamafactory_read`` mirrors what LLaMA-Factory does with a ``dataset_info.json`` entry
(``data/parser.py`` get_dataset_list + ``data/converter.py`` Alpaca/ShareGPT converters):
unknown keys are refused, the listed columns must exist, ShareGPT roles must alternate
user/assistant from the first turn and the turn count must be even.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infinstruct.core.errors import InputError
from infinstruct.core.settings import Settings
from infinstruct.finetune.instructions import load_examples
from infinstruct.finetune.instructions.interop import export_set, import_file

Built = tuple[Settings, dict[str, Any]]
_ENTRY_KEYS = {
    "hf_hub_url",
    "ms_hub_url",
    "script_url",
    "file_name",
    "file_sha1",
    "subset",
    "folder",
    "ranking",
    "formatting",
    "columns",
    "tags",
    "split",
    "num_samples",
}


def _load(path: Path) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    return (
        json.loads(text) if text.lstrip().startswith("[") else [json.loads(x) for x in text.splitlines() if x]
    )


def _llamafactory_read(folder: Path, name: str) -> list[dict[str, Any]]:
    """Records as LLaMA-Factory aligns them: {_system, _prompt: [...], _response: [...]}."""
    entry = json.loads((folder / "dataset_info.json").read_text())[name]
    assert set(entry) <= _ENTRY_KEYS and (folder / entry["file_name"]).is_file()
    formatting = entry.get("formatting", "alpaca")
    assert formatting in ("alpaca", "sharegpt")
    cols, tags = entry.get("columns", {}), entry.get("tags", {})
    out = []
    for record in _load(folder / entry["file_name"]):
        if formatting == "alpaca":
            prompt: list[dict[str, str]] = []
            for old_q, old_a in record[cols["history"]]:
                prompt += [{"role": "user", "content": old_q}, {"role": "assistant", "content": old_a}]
            query = [record[cols.get("prompt", "instruction")]]
            if record.get(cols.get("query", "input")):
                query.append(record[cols.get("query", "input")])
            prompt.append({"role": "user", "content": "\n".join(query)})
            response = [{"role": "assistant", "content": record[cols.get("response", "output")]}]
            system = record[cols["system"]] if "system" in cols else ""
        else:
            role, content = tags.get("role_tag", "from"), tags.get("content_tag", "value")
            user, assistant = tags.get("user_tag", "human"), tags.get("assistant_tag", "gpt")
            messages = record[cols.get("messages", "conversations")]
            if messages and messages[0][role] == tags.get("system_tag", "system"):
                system, messages = messages[0][content], messages[1:]
            else:
                system = record[cols["system"]] if "system" in cols else ""
            for index, message in enumerate(messages):
                assert message[role] == (user if index % 2 == 0 else assistant), "invalid role tag"
            assert len(messages) % 2 == 0, "invalid message count"
            aligned = [
                {"role": "user" if m[role] == user else "assistant", "content": m[content]} for m in messages
            ]
            prompt, response = aligned[:-1], aligned[-1:]
        out.append({"_system": system, "_prompt": prompt, "_response": response})
    return out


def _comparable(examples: list[Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            e.id_hash,
            e.task,
            e.domain,
            e.lang,
            e.split,
            e.system,
            json.dumps(e.messages, ensure_ascii=False),
            e.source_document_id,
            e.group_key,
            json.dumps(e.meta, sort_keys=True, ensure_ascii=False),
        )
        for e in examples
    )


@pytest.mark.parametrize("fmt", ["alpaca", "sharegpt", "messages"])
def test_round_trip_is_lossless_and_llamafactory_reads_it(built: Built, fmt: str, tmp_path: Path) -> None:
    settings, _ = built
    original = load_examples(settings, split=None)
    result = export_set(settings, fmt=fmt, out=tmp_path / f"set.{fmt}.json{'l' if fmt != 'alpaca' else ''}")
    assert result["examples"] == len(original)

    seen = _llamafactory_read(tmp_path, result["dataset"])
    for record, ex in zip(seen, original, strict=True):
        assert record["_system"] == ex.system
        assert record["_prompt"][:-1] == ex.messages[:-2]
        assert record["_response"] == ex.messages[-1:]
        # LLaMA-Factory joins instruction and input with one newline; the text is the same otherwise
        assert record["_prompt"][-1]["content"].replace("\n", "") == ex.messages[-2]["content"].replace(
            "\n", ""
        )

    report = import_file(settings, Path(result["path"]), set_name=f"copy-{fmt}")
    assert report["examples"] == len(original) and not report["unchanged"]
    copy = load_examples(settings, set_name=f"copy-{fmt}", split=None)
    assert _comparable(copy) == _comparable(original)
    assert import_file(settings, Path(result["path"]), set_name=f"copy-{fmt}")["unchanged"]


def test_export_one_split_into_a_folder_keeps_other_dataset_entries(built: Built, tmp_path: Path) -> None:
    settings, report = built
    first = export_set(settings, fmt="messages", out=tmp_path, split="train")
    second = export_set(settings, fmt="sharegpt", out=tmp_path)
    info = json.loads((tmp_path / "dataset_info.json").read_text())
    assert {first["dataset"], second["dataset"]} <= set(info)
    assert first["examples"] == report["by_split"]["train"]
    assert Path(first["path"]).parent == tmp_path


def test_import_foreign_alpaca_and_count_broken_records(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps(
            [
                {"instruction": "Translate to French", "input": "good morning", "output": "bonjour"},
                {"instruction": "你好吗？", "input": "", "output": "我很好。", "history": [["在吗", "在的"]]},
                {"instruction": "no answer here"},
                "not an object",
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    report = import_file(settings, path, domain="travel", task="translation")
    assert report["examples"] == 2 and report["rejects"] == {"unreadable": 2}
    rows = load_examples(settings, set_name="imported", split=None)
    en = next(r for r in rows if r.lang == "en")
    assert en.messages[0]["content"] == "Translate to French\n\ngood morning"
    assert (en.domain, en.task) == ("travel", "translation")
    zh = next(r for r in rows if r.lang == "zh")
    assert [m["role"] for m in zh.messages] == ["user", "assistant", "user", "assistant"]


def test_import_refuses_unknown_shapes(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_text('{"prompt": "x", "completion": "y"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="--format"):
        import_file(settings, path)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"messages": [{"role": "assistant", "content": "hi"}]}\n', encoding="utf-8")
    with pytest.raises(InputError, match="no readable messages records"):
        import_file(settings, bad)
    with pytest.raises(InputError, match="no file at"):
        import_file(settings, tmp_path / "missing.json")
