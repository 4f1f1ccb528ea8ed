"""Threshold fitting and the calibration report (pure parts; real-data numbers: docs/chat.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from infinstruct.chat.calibration import CalibrationItem, fit_thresholds, route_report
from infinstruct.chat.ood import OUT_OF_DOMAIN, PROBE_FOLDS, fit_probe, fold_of
from infinstruct.chat.router import Features, decide
from infinstruct.chat.thresholds import OFF_DOMAIN_GATE_OFF, Thresholds, load_thresholds, save_thresholds
from infinstruct.core.settings import load_settings


def _item(expected: str, n: int) -> CalibrationItem:
    return CalibrationItem(f"q{expected}{n}", expected, "test")  # type: ignore[arg-type]


def test_fit_separates_the_routes_and_the_report_counts_them() -> None:
    items, feats = [], []
    for n in range(20):  # model questions: high model score; retrieval: mid; abstain: low
        items.append(_item("model", n))
        feats.append(Features(model=0.8 + n / 200, examples=[(0.9, {})], retrieval=0.5))
        items.append(_item("retrieval", n))
        feats.append(Features(model=0.4, examples=[(0.4, {})], retrieval=0.6 + n / 100))
        items.append(_item("abstain", n))
        feats.append(Features(model=0.2 + n / 200, examples=[(0.2, {})], retrieval=0.1 + n / 100))
    fitted = fit_thresholds(items, feats, Thresholds(curated=0.9, model=0.5, retrieval=0.5))
    assert fitted.calibrated and 0.4 < fitted.model <= 0.8 and 0.29 < fitted.retrieval <= 0.6
    report = route_report(items, [decide(f, fitted) for f in feats])
    assert report["per_route_accuracy"] == {"abstain": 1.0, "model": 1.0, "retrieval": 1.0}
    assert report["abstain_precision"] == 1.0 and report["abstain_recall"] == 1.0


def test_report_abstain_precision_and_recall() -> None:
    items = [_item("abstain", 0), _item("abstain", 1), _item("model", 0), _item("model", 1)]
    report = route_report(items, ["abstain", "model", "abstain", "model"])
    assert report["abstain_precision"] == 0.5 and report["abstain_recall"] == 0.5
    assert report["confusion"] == {"abstain": {"abstain": 1, "model": 1}, "model": {"abstain": 1, "model": 1}}


def test_out_of_domain_list_is_diverse_and_bilingual() -> None:
    assert len(set(OUT_OF_DOMAIN)) == len(OUT_OF_DOMAIN) >= 190
    assert sum(1 for q in OUT_OF_DOMAIN if any("\u4e00" <= c <= "\u9fff" for c in q)) >= 30


def test_fit_declines_questions_nearer_to_the_off_domain_references() -> None:
    """Off-domain questions that score as high as in-domain ones against the training questions
    (all Chinese text, for an English embedder) are told apart by being much closer to a
    known off-domain question: the fit finds the margin."""
    items, feats = [], []
    for n in range(20):
        items.append(_item("model", n))
        feats.append(Features(model=0.8 + n / 100, examples=[(0.9, {})], off_domain=0.5 + n / 100))
        items.append(_item("abstain", n))
        feats.append(Features(model=0.8 + n / 100, examples=[(0.9, {})], off_domain=0.9 + n / 200))
    fitted = fit_thresholds(items, feats, Thresholds(curated=0.9, model=0.5, retrieval=0.5))
    assert -0.2 < fitted.off_domain_margin <= 0.2
    assert fitted.off_domain_probe == OFF_DOMAIN_GATE_OFF  # no probabilities: the margin gate
    report = route_report(items, [decide(f, fitted) for f in feats])
    assert report["abstain_recall"] == 1.0 and report["per_route_accuracy"]["model"] == 1.0


def test_fit_uses_the_probe_when_every_item_has_a_probability() -> None:
    """In-domain and off-domain items alike in every similarity (the margin cannot tell them
    apart); only the probe's probability does: the fit sets a probe threshold between them
    and switches the margin off."""
    items, feats = [], []
    for n in range(20):
        same = {"model": 0.8 + n / 100, "examples": [(0.9, {})], "off_domain": 0.8 + n / 100}
        items.append(_item("model", n))
        feats.append(Features(**same, off_domain_probability=0.05 + n / 100))  # type: ignore[arg-type]
        items.append(_item("abstain", n))
        feats.append(Features(**same, off_domain_probability=0.7 + n / 100))  # type: ignore[arg-type]
    fitted = fit_thresholds(items, feats, Thresholds(curated=0.9, model=0.5, retrieval=0.5))
    assert 0.24 < fitted.off_domain_probe <= 0.7
    assert fitted.off_domain_margin == OFF_DOMAIN_GATE_OFF
    report = route_report(items, [decide(f, fitted) for f in feats])
    assert report["abstain_recall"] == 1.0 and report["per_route_accuracy"]["model"] == 1.0


def test_the_probe_gate_replaces_the_margin_only_where_it_is_known() -> None:
    near = Features(model=0.9, examples=[(0.9, {})], off_domain=0.5, off_domain_probability=0.95)
    thresholds = Thresholds(
        curated=0.9, model=0.5, retrieval=0.5, off_domain_margin=0.0, off_domain_probe=0.5
    )
    assert decide(near, thresholds) == "abstain"  # the probe declines what the margin would answer
    assert decide(near, Thresholds(curated=0.9, model=0.5, retrieval=0.5, off_domain_margin=0.0)) == "model"
    unknown = Features(model=0.5, examples=[(0.5, {})], off_domain=0.9)  # no version: no probability
    assert decide(unknown, thresholds) == "abstain"  # the margin still applies


def test_probe_separates_two_clusters_and_needs_both() -> None:
    rng = np.random.default_rng(0)
    centre = np.eye(8)
    inside = centre[0] + 0.3 * rng.standard_normal((60, 8))
    outside = centre[1] + 0.3 * rng.standard_normal((15, 8))
    probe = fit_probe(inside, outside)
    assert probe is not None
    assert probe.probability(centre[1:2])[0] > 0.9 > 0.1 > probe.probability(centre[0:1])[0]
    assert fit_probe(inside, outside[:0]) is None and fit_probe(inside[:0], outside) is None


def test_reference_folds_are_fixed_and_all_used() -> None:
    folds = [fold_of(q) for q in OUT_OF_DOMAIN]
    assert folds == [fold_of(q) for q in OUT_OF_DOMAIN] and set(folds) == set(range(PROBE_FOLDS))


def test_thresholds_file_keeps_the_probe_and_reads_files_from_before_it(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    save_thresholds(settings, Thresholds(curated=0.9, model=0.3, retrieval=0.5, off_domain_probe=0.42))
    assert load_thresholds(settings).off_domain_probe == 0.42
    path = tmp_path / "router-thresholds.json"
    assert path.exists()
    old = {"curated": 0.9, "model": 0.25, "retrieval": 0.53, "off_domain_margin": -0.075}
    path.write_text(json.dumps(old), encoding="utf-8")
    loaded = load_thresholds(settings)
    assert loaded.off_domain_margin == -0.075 and loaded.off_domain_probe == OFF_DOMAIN_GATE_OFF


def test_an_intent_needs_more_evidence_for_its_curated_answer_than_for_a_tag() -> None:
    """Issue 14: "my package hasn't arrived yet" got the card-delivery answer (card_arrival,
    confidence 0.77, intent similarity 0.64 against 0.57 for the nearest trained tweet)."""
    from infinstruct.chat.questions import IntentGuess

    thresholds = Thresholds(curated=0.9, model=0.5, retrieval=0.5, intent=0.6)
    answer = {"id": 1, "answer": "Cards arrive in 5 days.", "intent": "card_arrival"}

    def feat(
        confidence: float, similarity: float = 0.9, model: float = 0.5, coverage: float = 1.0
    ) -> Features:
        return Features(
            intent=IntentGuess("card_arrival", confidence, similarity),
            intent_answer=answer,
            model=model,
            examples=[(model, {})],
            intent_coverage=coverage,
        )

    assert decide(feat(0.95), thresholds) == "curated"
    assert decide(feat(0.55), thresholds) == "abstain"  # handed off, tagged with the intent
    assert feat(0.55).fired_intent(thresholds) is not None
    assert decide(feat(0.77, similarity=0.64, model=0.57), thresholds) == "abstain"  # no clear margin
    assert decide(feat(0.95, coverage=0.5), thresholds) == "abstain"  # words the intent never uses


def test_a_handoff_names_its_topic_to_the_customer_only_with_a_certain_intent() -> None:
    """The session's real-store check: "my package hasn't arrived yet, it's been 2 weeks" was
    handed off as "your question about card arrival"; a weak tag stays for the operators."""
    from infinstruct.chat.questions import IntentGuess
    from infinstruct.chat.router import handoff_text

    weak = Features(intent=IntentGuess("card_arrival", 0.55, 0.64), model=0.57, intent_coverage=0.4)
    sure = Features(intent=IntentGuess("lost_or_stolen_card", 0.95, 0.9), model=0.5)
    assert weak.intent is not None and sure.intent is not None
    assert not weak.intent_is_certain(weak.intent) and sure.intent_is_certain(sure.intent)
    plain = handoff_text("my package hasn't arrived yet", None)
    assert "card arrival" not in plain and "colleague" in plain
    assert "lost or stolen card" in handoff_text("I lost my card", "lost_or_stolen_card")
    assert "挂失" not in handoff_text("我的卡丢了", None) and "同事" in handoff_text("我的卡丢了", None)


def test_content_words_and_coverage() -> None:
    from infinstruct.chat.intent_evidence import content_words, coverage, intent_vocabularies

    assert content_words("My card hasn't arrived yet!") == {"card", "arriv"}
    vocab = intent_vocabularies([{"question": "When will my card arrive?", "answer": "card_arrival"}])
    assert coverage("My new parcel has not arrived", vocab["card_arrival"]) == 1 / 3
    assert coverage("Where is my card? It has not arrived", vocab["card_arrival"]) == 1.0
