"""Threshold fitting and the calibration report (pure parts; real-data numbers: docs/chat.md)."""

from __future__ import annotations

from infinstruct.chat.calibration import CalibrationItem, fit_thresholds, route_report
from infinstruct.chat.ood import OUT_OF_DOMAIN
from infinstruct.chat.router import Features, decide
from infinstruct.chat.thresholds import Thresholds


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
