"""Commands of recommend; registered on the root app by ``infinstruct.cli``."""

from __future__ import annotations

import typer

from infinstruct.core.cli_support import JsonOption, emit, settings_from


def register(app: typer.Typer, eval_app: typer.Typer) -> None:
    """Add these commands to the root app and the shared ``eval`` group."""

    @app.command("recommend")
    def recommend_cmd(
        ctx: typer.Context,
        user: str | None = typer.Option(None, "--user", help="A user id with history in the corpus."),
        likes: str | None = typer.Option(
            None, "--likes", help="Liked items: ids or exact titles separated by ';'."
        ),
        text: str | None = typer.Option(None, "--text", help='A description, e.g. "a light sci-fi comedy".'),
        k: int | None = typer.Option(None, "--k", help="How many items (default recommend.default_k)."),
        corpus: str | None = typer.Option(None, "--corpus", help="Item corpus (default: recommend.corpus)."),
        as_json: bool = JsonOption,
    ) -> None:
        """Recommend items for a user, from liked items, or from a text description."""
        from infinstruct.recommend.service import Recommenders, load_recommender, recommend

        settings = settings_from(ctx)
        built = Recommenders()  # the recommend call builds it, the corpus name reads it back
        items = recommend(settings, user=user, likes=likes, text=text, k=k, corpus=corpus, recommenders=built)
        name = load_recommender(settings, corpus, user=user, recommenders=built).data.corpus
        lines = [f"{i}. {r.title} [{r.item_id}] {r.score:.3f}: {r.why}" for i, r in enumerate(items, 1)]
        emit(
            {"corpus": name, "items": [r.as_dict() for r in items]},
            as_json=as_json,
            human="\n".join(lines) or "no items to recommend",
        )

    @eval_app.command("recommend")
    def eval_recommend(
        ctx: typer.Context,
        corpus: list[str] | None = typer.Option(
            None, "--corpus", help="Evaluate only this item corpus (repeatable; the first is primary)."
        ),
        max_users: int | None = typer.Option(
            None, "--max-users", help="Score an evenly spread sample of this many users per corpus."
        ),
        as_json: bool = JsonOption,
    ) -> None:
        """Leave-last-out HR@10/NDCG@10 of popularity, text, collaborative and combined."""
        from infinstruct.recommend.report import run_eval

        report = run_eval(settings_from(ctx), corpora=corpus or (), max_users=max_users)
        lines = []
        for name, rep in report["corpora"].items():
            lines.append(
                f"{name}: {rep['users']} users, {rep['items']} items (leave-last-out, all items ranked)"
            )
            for ranker in ("popularity", "text", "collaborative", "combined"):
                m = rep[ranker]
                lines.append(f"  {ranker:<14} HR@10 {m['hr@10']:.4f}  NDCG@10 {m['ndcg@10']:.4f}")
        lines += [f"{name}: skipped ({why})" for name, why in report["skipped"].items()]
        emit(report, as_json=as_json, human="\n".join(lines))
