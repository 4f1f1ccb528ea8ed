from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from infinstruct.core.settings import InstructionSettings, Settings
from infinstruct.core.text import sentence_key
from infinstruct.finetune.instructions import build_instruction_set, load_examples
from infinstruct.finetune.instructions.splits import assign_split
from tests.finetune.instructions.factory import add_corpus, labelled

OPTS = InstructionSettings()


@given(st.text(min_size=1, max_size=40))
def test_split_is_a_function_of_the_group_key(key: str) -> None:
    assert assign_split(key, OPTS) == assign_split(key, InstructionSettings())
    assert assign_split(key, OPTS) in {"train", "validation", "test"}


@hsettings(max_examples=20)
@given(st.text(min_size=3, max_size=60))
def test_same_sentence_any_spelling_same_split(text: str) -> None:
    variants = [text, text.upper(), f"  {text}!! ", f"{text} https://t.co/x"]
    assert len({assign_split(f"sent:{sentence_key(v)}", OPTS) for v in variants}) == 1


def test_shares_are_respected_on_many_groups() -> None:
    counts = Counter(assign_split(f"user:{i}", OPTS) for i in range(20_000))
    assert abs(counts["test"] / 20_000 - OPTS.test_share) < 0.01
    assert abs(counts["validation"] / 20_000 - OPTS.validation_share) < 0.01


def _sides(examples: list[Any], key: Any) -> dict[str, set[str]]:
    sides: dict[str, set[str]] = defaultdict(set)
    for ex in examples:
        sides[key(ex)].add(ex.split)
    return sides


def test_no_group_thread_user_or_sentence_on_two_sides(built: tuple[Settings, dict[str, Any]]) -> None:
    settings, _ = built
    examples = load_examples(settings, split=None)
    assert len({ex.split for ex in examples}) >= 2
    for key in (
        lambda ex: ex.group_key,
        lambda ex: ex.source_document_id or ex.id_hash,  # a document (thread) feeds one side only
        lambda ex: ex.meta.get("user_id") or ex.id_hash,
        # the input sentence of every single-turn example, normalised
        lambda ex: (
            sentence_key(ex.messages[0]["content"].split("\n\n")[-1]) if len(ex.messages) == 2 else ex.id_hash
        ),
    ):
        assert all(len(s) == 1 for s in _sides(examples, key).values())


def test_same_sentence_from_two_corpora_lands_in_one_split(settings: Settings) -> None:
    opts = settings.instructions.model_copy(update={"test_share": 0.34, "validation_share": 0.33})
    settings = settings.model_copy(update={"instructions": opts})
    words = [
        "copper",
        "timber",
        "shipping",
        "software",
        "retail",
        "pharma",
        "dairy",
        "steel",
        "paper",
        "telecom",
    ]
    verbs = ["rose", "fell", "stalled", "doubled", "slipped", "recovered"]
    sentences = [
        f"{words[i % 10].title()} {verbs[i % 6]} while {words[(i * 7 + 3) % 10]} orders "
        f"{verbs[(i + 2) % 6]} in {['Finland', 'Norway', 'Japan'][i % 3]}"
        for i in range(30)
    ]
    assert len(set(sentences)) == 30
    add_corpus(settings, "fin_a", "finance", [labelled(s, "positive", "sentiment") for s in sentences])
    # the same sentences, re-cased and with links, in a differently-labelled corpus of another domain
    add_corpus(
        settings,
        "tone_b",
        "labelled",
        [
            labelled(f"{s.upper()} https://t.co/{i}", "upbeat" if i % 2 else "flat", "tone")
            for i, s in enumerate(sentences)
        ],
    )
    build_instruction_set(settings)
    by_sentence: dict[str, set[str]] = defaultdict(set)
    tasks: dict[str, set[str]] = defaultdict(set)
    for ex in load_examples(settings, split=None):
        if ex.task in ("sentiment_classification", "text_classification"):
            key = sentence_key(ex.messages[0]["content"].split("\n\n")[-1])
            by_sentence[key].add(ex.split)
            tasks[key].add(ex.task)
    assert len(by_sentence) == 30
    assert all(len(t) == 2 for t in tasks.values())  # both corpora produced it
    assert all(len(s) == 1 for s in by_sentence.values())
    assert len(set().union(*by_sentence.values())) == 3  # yet the sentences spread over all splits
