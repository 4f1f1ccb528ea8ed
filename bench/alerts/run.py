"""Alerts throughput: sentiment scoring batched vs one item at a time, and one whole alerts run.

Same real items, same model, same run:

* **batched** — the one article scorer (``sentiment.article.score_articles``, as the alerts
  call it): every unit (title and summary sentences) of every item in batches of
  ``alerts.batch_size``;
* **one at a time** (the baseline) — the same function called once per item, as a naive
  loop over new items would. Both modes score the same ``--sample`` items (a seeded random
  draw from the whole pool), in ``--rounds`` interleaved rounds; medians and spread reported;
* **end to end** — ``alerts run-once`` on a fresh store: poll a drop folder holding the N
  items through the connectors, score them, detect spikes for 20 watched tickers, fill
  the outbox.

Items: the real Twitter financial news headlines (9,543), CNBC captures (60, with summaries)
and Seeking Alpha summaries (459), spread over 14 days; ``--quick`` uses 1,000. The model
is the MiniLM encoder with a 3-way head (freshly initialised unless ``--model`` names a
trained folder: throughput does not depend on the weights).

    python bench/alerts/run.py [--quick] [--sample 300] [--rounds 5] [--no-e2e] [--model PATH]
    # writes bench/results/alerts.json
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))  # runnable as a plain script from anywhere
DATA = REPO.parent / "shared" / "data" / "finance"
END = datetime(2024, 1, 15, tzinfo=UTC)


def real_items(limit: int) -> list[dict[str, str]]:
    """(title, text, tickers) of real finance news, CNBC and Seeking Alpha first."""
    import feedparser

    items: list[dict[str, str]] = []
    for path in sorted((DATA / "cnbc_finance_rss").glob("*.xml")):
        for entry in feedparser.parse(path.read_bytes()).entries:
            items.append({"title": entry.get("title", ""), "text": entry.get("summary", ""), "tickers": ""})
    with (DATA / "seeking_alpha_summaries" / "seeking_alpha_articles.csv").open(encoding="utf-8") as fh:
        items += [{"title": "", "text": r["summary"], "tickers": r["ticker"]} for r in csv.DictReader(fh)]
    with (DATA / "twitter_financial_news_sentiment" / "sent_train.csv").open(encoding="utf-8") as fh:
        items += [{"title": r["text"], "text": "", "tickers": ""} for r in csv.DictReader(fh)]
    return items[:limit]


def load_model(model: str | None, device: str) -> Any:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from infinstruct.core.bundled_models import minilm_path
    from infinstruct.sentiment.scorer import ClassifierScorer, load_scorer

    if model:
        return load_scorer(model, version="bench", device=device, max_length=96)
    torch.manual_seed(0)
    folder = minilm_path()
    head = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3)
    head.config.id2label = {0: "negative", 1: "neutral", 2: "positive"}
    return ClassifierScorer(
        head.to(device).eval(), AutoTokenizer.from_pretrained(folder), version="bench", max_length=96
    )


def scoring(
    scorer: Any, items: list[dict[str, str]], *, sample: int, batch: int, rounds: int
) -> dict[str, Any]:
    """Both modes score the same ``sample`` items (a seeded random draw from all of them, so
    short tweets and long articles are mixed alike), in interleaved rounds."""
    import random

    from bench.common import interleave, timed
    from infinstruct.sentiment.article import article_units, score_articles

    chosen = random.Random(0).sample(items, min(sample, len(items)))
    articles = [(i["title"], i["text"]) for i in chosen]
    units = sum(len(article_units(t, x)) for t, x in articles)
    chars = sum(len(t) + len(x) for t, x in articles)
    score_articles(scorer, articles[:64], batch_size=batch)  # warm-up (kernels, allocator)

    def batched() -> dict[str, float]:
        seconds, _ = timed(lambda: score_articles(scorer, articles, batch_size=batch))
        return {"items_per_s": len(articles) / seconds, "units_per_s": units / seconds, "seconds": seconds}

    def one_at_a_time() -> dict[str, float]:
        def loop() -> None:
            for article in articles:
                score_articles(scorer, [article], batch_size=batch)

        seconds, _ = timed(loop)
        return {"items_per_s": len(articles) / seconds, "units_per_s": units / seconds, "seconds": seconds}

    timings = interleave({"batched": batched, "one_at_a_time": one_at_a_time}, rounds=rounds)
    ratios = [
        b / s
        for b, s in zip(
            timings["batched"]["items_per_s"]["rounds"],
            timings["one_at_a_time"]["items_per_s"]["rounds"],
            strict=True,
        )
    ]
    from bench.common import spread

    return {
        "items": len(articles),
        "units": units,
        "chars": chars,
        "same_items_both_modes": True,
        "timings": timings,
        "speedup": spread(ratios, 2),
    }


def end_to_end(scorer: Any, items: list[dict[str, str]], *, batch: int) -> dict[str, Any]:
    """One ``run_once`` over a fresh store: poll (connectors), score, detect, outbox."""
    from infinstruct.alerts.feeds import add_feed
    from infinstruct.alerts.pipeline import run_once
    from infinstruct.alerts.topics import item_tickers
    from infinstruct.alerts.watchlists import add_watch
    from infinstruct.core.db import get_engine, session_scope, upgrade
    from infinstruct.core.settings import load_settings
    from infinstruct.core.tables import ModelVersion, User
    from infinstruct.services import build_feed_reader

    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as tmp:
        root = Path(tmp)
        settings = load_settings(
            data_dir=root / "var", alerts={"max_items_per_run": len(items) + 1, "batch_size": batch}
        )
        upgrade(settings)
        drop = root / "drop"
        drop.mkdir()
        step = timedelta(days=14) / max(len(items), 1)
        with (drop / "news.csv").open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["title", "text", "date", "tickers"])
            for n, item in enumerate(items):
                title = item["title"] or item["text"][:80]
                writer.writerow([title, item["text"], (END - step * n).isoformat(), item["tickers"]])
        tickers = Counter(
            t for i in items for t in item_tickers(f"{i['title']}\n{i['text']}", [i["tickers"]])
        )
        with session_scope(settings) as session:
            session.add(User(username="bench", role="analyst", password_hash="-"))
            session.add(
                ModelVersion(
                    name="bench",
                    kind="sentiment",
                    base="minilm",
                    method="full",
                    recipe="bench",
                    artefact_path="-",
                )
            )
        for ticker, _ in tickers.most_common(20):
            add_watch(settings, "bench", ticker)
        add_feed(settings, "drop", str(drop), kind="folder")
        started = time.perf_counter()
        report = run_once(settings, reader=build_feed_reader(settings), scorer=scorer, now=END)
        seconds = time.perf_counter() - started
        get_engine(settings).dispose()
    return {
        "items": report["items"],
        "watched_topics": report["topics"],
        "alerts": len(report["alerts"]),
        "seconds": round(seconds, 2),
        "items_per_s": round(report["items"] / seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 items end to end instead of all (~10k)")
    parser.add_argument("--sample", type=int, default=300, help="Items both scoring modes score.")
    parser.add_argument("--rounds", type=int, default=5, help="Interleaved rounds (>= 5).")
    parser.add_argument("--no-e2e", action="store_true", help="Skip the end-to-end run-once.")
    parser.add_argument("--model", help="a trained sentiment folder (default: MiniLM + a fresh head)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()

    from bench.common import machine_info, write_result
    from infinstruct.core.settings import load_settings

    batch = load_settings().alerts.batch_size
    items = real_items(1_000 if args.quick else 20_000)
    scorer = load_model(args.model, args.device)
    scores = scoring(scorer, items, sample=args.sample, batch=batch, rounds=args.rounds)
    e2e = None if args.no_e2e else end_to_end(scorer, items, batch=batch)
    timings = scores["timings"]
    print(f"{'mode':16} {'items':>6} {'items/s median':>15} {'p25-p75':>15}")
    for mode in ("batched", "one_at_a_time"):
        m = timings[mode]["items_per_s"]
        print(f"{mode:16} {scores['items']:>6} {m['median']:>15} {m['p25']:>7}-{m['p75']:<7}")
    print(f"batched / one at a time on the same {scores['items']} items: {scores['speedup']['median']}x")
    if e2e:
        print(f"alerts run-once end to end: {e2e['items']} items in {e2e['seconds']} s")
    path = write_result(
        "alerts",
        {
            "what": "alerts sentiment scoring, batched vs one item at a time on the same items; "
            "one alerts run-once end to end (single run)",
            "produced_by": "python bench/alerts/run.py" + (" --quick" if args.quick else ""),
            "machine": machine_info(),
            "inputs": {
                "items_pool": len(items),
                "sample": scores["items"],
                "sample_units": scores["units"],
                "sample_chars": scores["chars"],
                "batch_size": batch,
                "model": args.model or "MiniLM + fresh 3-way head (throughput does not depend on weights)",
                "device": args.device,
                "rounds": args.rounds,
            },
            "scoring": scores,
            "end_to_end": e2e,
        },
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
