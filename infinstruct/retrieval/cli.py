"""Commands of retrieval; registered on the root app by ``infinstruct.cli``.

Heavy modules (torch via the embedder, FAISS) are imported inside the commands.
"""

from __future__ import annotations

from typing import Any

import typer

from infinstruct.core.cli_support import JsonOption, emit, settings_from
from infinstruct.core.errors import InputError

index_app = typer.Typer(help="The retrieval index (FAISS + BM25) over the store.", no_args_is_help=True)


def _status_text(status: dict[str, Any]) -> str:
    if not status["exists"]:
        return (
            f"no index at {status['path']} ({status['store_live_chunks']} live chunks in the store); "
            "run `infinstruct index build`"
        )
    state = (
        "in sync"
        if status["in_sync"]
        else (
            f"out of date: {status['missing']} chunks missing, {status['extra']} extra, "
            f"{status['unindexed_documents']} documents not chunked; run `infinstruct index build`"
        )
    )
    return (
        f"{status['count']} vectors ({status['kind']}, {status['model']}, {status['dimension']} dims) "
        f"built {status['built_at']} at {status['path']}: {state}"
    )


def _eval_text(report: dict[str, Any]) -> str:
    lines = [
        f"{'set':<10} {'method':<7} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR':>6} {'nDCG10':>7} "
        f"{'ctrl@10':>7} {'n':>5}"
    ]
    for name, methods in report.items():
        for method, m in methods.items():
            lines.append(
                f"{name:<10} {method:<7} {m['recall@1']:>6.3f} {m['recall@5']:>6.3f} {m['recall@10']:>6.3f} "
                f"{m['mrr']:>6.3f} {m['ndcg@10']:>7.3f} {m['control_recall@10']:>7.3f} {m['n']:>5}"
            )
    return "\n".join(lines)


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add these commands to the root app and the shared ``eval`` group."""
    app.add_typer(index_app, name="index")
    _register_index(index_app)
    _register_search(app)
    _register_eval(eval_app)


def _register_index(index_app: typer.Typer) -> None:
    """``index build|status``."""

    @index_app.command("build")
    def build_cmd(
        ctx: typer.Context,
        full: bool = typer.Option(False, "--full", help="Rebuild from scratch instead of updating."),
        as_json: bool = JsonOption,
    ) -> None:
        """Chunk, embed and index the store's live documents (incremental by default)."""
        from infinstruct.core.db import ensure_schema
        from infinstruct.retrieval.index_store import build_index

        settings = settings_from(ctx)
        ensure_schema(settings)
        report = build_index(settings, full=full, show_progress=not as_json)
        emit(
            report,
            as_json=as_json,
            human=(
                f"{report['count']} vectors ({report['kind']}): +{report['added']} -{report['removed']} "
                f"in {report['seconds']}s" + (f" (rebuilt: {report['reason']})" if report["rebuilt"] else "")
            ),
        )

    @index_app.command("status")
    def status_cmd(ctx: typer.Context, as_json: bool = JsonOption) -> None:
        """How the index compares with the store (missing and extra chunks)."""
        from infinstruct.retrieval.index_store import index_status

        status = index_status(settings_from(ctx))
        emit(status, as_json=as_json, human=_status_text(status))


def _register_search(app: typer.Typer) -> None:
    """``search``: the hybrid retrieval from the terminal."""

    @app.command("search")
    def search_cmd(
        ctx: typer.Context,
        text: str = typer.Argument(..., help="What to search for."),
        k: int | None = typer.Option(None, "--k", help="Results to return (default: retrieval.default_k)."),
        corpus: list[str] = typer.Option([], "--corpus", help="Only these corpora (repeat)."),
        domain: list[str] = typer.Option([], "--domain", help="Only these domains (repeat)."),
        mode: str = typer.Option("hybrid", "--mode", help="hybrid, dense or bm25."),
        brand: str | None = typer.Option(None, "--brand", help="Only documents of this brand (twcs)."),
        ticker: str | None = typer.Option(None, "--ticker", help="Only news mentioning this ticker."),
        since: str | None = typer.Option(None, "--since", help="Published on/after this ISO date."),
        until: str | None = typer.Option(None, "--until", help="Published on/before this ISO date."),
        as_json: bool = JsonOption,
    ) -> None:
        """Search the index; hits carry document id, corpus, title, snippet and score."""
        from infinstruct.retrieval.search import MODES, search

        if mode not in MODES:
            raise InputError(f"--mode must be one of {', '.join(MODES)} (got {mode!r})")
        filters = {"domain": domain, "brand": brand, "ticker": ticker, "since": since, "until": until}
        hits = search(
            settings_from(ctx),
            text,
            k,
            corpus=corpus or None,
            filters={key: v for key, v in filters.items() if v},
            mode=mode,  # type: ignore[arg-type]
        )
        lines = [
            f"{h.score:.4f}  [{h.corpus}] {h.doc_id}  {(h.title + ': ') if h.title else ''}"
            f"{h.snippet.replace(chr(10), ' / ')[:160]}"
            for h in hits
        ]
        emit(
            {"query": text, "hits": [h.to_dict() for h in hits]},
            as_json=as_json,
            human="\n".join(lines) or "no hits",
        )


def _register_eval(eval_app: typer.Typer) -> None:
    """``eval retrieval``."""

    @eval_app.command("retrieval")
    def eval_cmd(
        ctx: typer.Context,
        limit: int | None = typer.Option(
            None, "--limit", help="Documents read per set at most (quick runs)."
        ),
        sets: list[str] = typer.Option(
            [], "--set", help="Only these sets: twcs, banking77, ecd_zh (repeat)."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Dense vs BM25 vs hybrid on twcs, BANKING77 and ECD; fits and stores the hybrid mix."""
        from infinstruct.retrieval.evalsets import SET_NAMES
        from infinstruct.retrieval.evaluation import evaluate_retrieval

        unknown = [s for s in sets if s not in SET_NAMES]
        if unknown:
            raise InputError(f"--set must be one of {', '.join(SET_NAMES)} (got {unknown[0]!r})")
        report = evaluate_retrieval(settings_from(ctx), sets=tuple(sets) or SET_NAMES, limit=limit)
        emit(report, as_json=as_json, human=_eval_text(report))
