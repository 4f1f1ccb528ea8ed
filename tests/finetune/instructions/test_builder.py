from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from infinstruct.core.db import session_scope
from infinstruct.core.errors import InputError, NotFoundError
from infinstruct.core.settings import Settings
from infinstruct.core.tables import CorpusVersion, Document, InstructionExample
from infinstruct.finetune.instructions import build_instruction_set, latest_set, list_sets, load_examples
from infinstruct.finetune.instructions.builder import EmptyStoreError
from infinstruct.finetune.instructions.templates import TASKS, TEMPLATES
from tests.finetune.instructions.factory import FIN_SENTENCES, add_version, fill_store, labelled

Built = tuple[Settings, dict[str, Any]]


def test_every_task_is_built_with_counts_per_task_and_language(built: Built) -> None:
    _, report = built
    assert set(report["by_task_lang"]) == set(TASKS)
    # zh data gives zh examples; English-only sources still get zh phrasings (cross-lingual share)
    for task in ("support_reply", "sentiment_classification", "intent_classification", "curated_qa"):
        assert set(report["by_task_lang"][task]) == {"en", "zh"}, task
    assert set(report["by_domain"]) == {"support", "finance", "items", "labelled", "legal", "curated"}
    assert report["examples"] == sum(report["by_split"].values())
    assert report["diversity"]["by_lang"]["en"]["distinct_2"] > 0.3
    assert set(report["diversity"]["distinct_2_by_task"]) == set(TASKS)


def test_filter_rejects_each_planted_problem(built: Built) -> None:
    rejects = built[1]["rejects"]
    assert rejects["exact_duplicate"] == 1  # PhraseBank's sentence again in the 50% file
    assert rejects["near_duplicate"] == 1  # one word changed in a long sentence
    assert rejects["label_conflict"] == 2  # both copies of a sentence labelled two ways
    assert rejects["language_mismatch"] == 1  # Chinese text stored as lang=en
    # PII in a labelled text rejects it; in an agent reply it is cleaned away (test below)
    assert rejects["pii_email"] == 1 and rejects["pii_phone"] == 1
    assert "near_duplicate" in built[1]["rejects_by_task"]["sentiment_classification"]


def test_every_phrasing_slot_exists_in_both_languages() -> None:
    for task, langs in TEMPLATES.items():
        assert set(langs) == {"en", "zh"}, task
        assert langs["en"].keys() == langs["zh"].keys(), task
        for slots in langs.values():
            assert all(len(p) >= 3 for p in slots.values()), task


def test_examples_are_openai_messages_that_end_with_the_answer(built: Built) -> None:
    settings, _ = built
    examples = load_examples(settings, split=None)
    assert examples
    for ex in examples:
        roles = [m["role"] for m in ex.messages]
        assert roles == ["user", "assistant"] * (len(roles) // 2), ex
        assert all(m["content"].strip() for m in ex.messages)
    labels = {ex.messages[-1]["content"] for ex in examples if ex.task == "sentiment_classification"}
    assert labels <= {"negative", "neutral", "positive"}
    multi = [ex for ex in examples if ex.task == "support_reply" and len(ex.messages) == 4]
    assert multi, "twcs thread should give a multi-turn example"
    ecd = [ex for ex in examples if ex.meta["corpus"] == "ecd"]
    # segmentation undone (the grounding block around the customer's words is ours)
    assert all(" " not in m["content"] for ex in ecd for m in ex.messages if m["role"] == "assistant")
    assert all(" " not in ex.meta.get("question", "") for ex in ecd)
    # an agent reply's e-mail address is removed, not learnt
    bill = [ex for ex in examples if "Let us look into it" in ex.messages[-1]["content"]]
    assert bill and all("@" not in ex.messages[-1]["content"] for ex in bill)
    # the opening agent turn is dropped and the two agent tweets in a row merge into one reply
    chipotle = next(ex for ex in examples if ex.group_key == "brand:chipotletweets")
    assert chipotle.messages[-1]["content"].count("\n") == 1


def test_load_examples_filters(built: Built) -> None:
    settings, report = built
    train = load_examples(settings)
    assert {ex.split for ex in train} == {"train"}
    assert len(train) == report["by_split"]["train"]
    zh = load_examples(settings, split=None, langs=["zh"], tasks=["sentiment_classification"])
    assert zh and all(ex.lang == "zh" and ex.task == "sentiment_classification" for ex in zh)
    assert len(load_examples(settings, split=None, domains=["items"], limit=3)) == 3
    assert load_examples(settings, split=None) == load_examples(settings, split=None)
    with pytest.raises(InputError, match="split must be one of"):
        load_examples(settings, split="dev")
    with pytest.raises(NotFoundError, match="no version 9"):
        load_examples(settings, version=9)
    assert latest_set(settings).version == 1


def test_no_set_yet_names_the_build_command(settings: Settings) -> None:
    with pytest.raises(NotFoundError, match="infinstruct instructions build"):
        load_examples(settings)
    with pytest.raises(EmptyStoreError, match="infinstruct ingest"):
        build_instruction_set(settings)


def _fingerprint(settings: Settings, version: int) -> list[tuple[str, str, str]]:
    return sorted(
        (e.id_hash, e.split, e.group_key) for e in load_examples(settings, version=version, split=None)
    )


def test_same_inputs_same_set_and_rollback_marks_stale(settings: Settings) -> None:
    ids = fill_store(settings)
    first = build_instruction_set(settings, max_per_corpus=50)
    again = build_instruction_set(settings, max_per_corpus=50)
    assert again["unchanged"] and again["version"] == first["version"]
    forced = build_instruction_set(settings, max_per_corpus=50, force=True)
    assert forced["version"] == first["version"] + 1 and forced["input_hash"] == first["input_hash"]
    assert _fingerprint(settings, 1) == _fingerprint(settings, 2)

    # A second load of PhraseBank adds a sentence: new inputs, new version.
    corpus_id, _ = ids["phrasebank"]
    new_text = "Net sales grew by 20 % and the company raised its full-year guidance."
    v2 = add_version(settings, corpus_id, [labelled(new_text, "positive", "sentiment")])
    grown = build_instruction_set(settings, max_per_corpus=50)
    assert grown["version"] == 3 and grown["input_hash"] != first["input_hash"]
    assert v2 in latest_set(settings).lineage["corpus_version_ids"]
    assert any(new_text in ex.messages[0]["content"] for ex in load_examples(settings, split=None))

    # Roll that load back (what `ingest rollback` does): the set built from it goes stale...
    with session_scope(settings) as session:
        version = session.get(CorpusVersion, v2)
        assert version is not None
        version.status = "rolled_back"
        for doc in session.exec(select(Document).where(Document.version_id == v2)).all():
            doc.stale = True
            session.add(doc)
        session.add(version)
    stale = {s.version: s.stale for s in list_sets(settings)}
    assert stale == {1: False, 2: False, 3: True}
    assert latest_set(settings).version == 2  # readers fall back to the newest usable set
    # ...and a rebuild leaves the rolled-back version out: same inputs as before, so v2 is reused.
    rebuilt = build_instruction_set(settings, max_per_corpus=50)
    assert rebuilt["unchanged"] and rebuilt["version"] == 2
    assert v2 not in latest_set(settings).lineage["corpus_version_ids"]
    assert not any(new_text in ex.messages[0]["content"] for ex in load_examples(settings, split=None))


def test_cap_per_corpus_is_a_deterministic_sample(settings: Settings) -> None:
    fill_store(settings)
    report = build_instruction_set(settings, max_per_corpus=2)
    assert sum(report["by_task_lang"]["intent_classification"].values()) == 2
    with session_scope(settings) as session:
        rows = session.exec(select(InstructionExample.task)).all()
    assert rows.count("item_description") <= 2
    with pytest.raises(InputError, match="max-per-corpus"):
        build_instruction_set(settings, max_per_corpus=0)


def test_first_sentence_content_survives_and_group_is_the_sentence(built: Built) -> None:
    settings, _ = built
    sentiment = load_examples(settings, split=None, tasks=["sentiment_classification"])
    kept = [ex for ex in sentiment if FIN_SENTENCES[0][0] in ex.messages[0]["content"]]
    assert len(kept) == 1 and kept[0].meta["corpus"] == "phrasebank"
