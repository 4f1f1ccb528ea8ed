"""The operator console (Gradio): load corpora, watch loads and training, ship models.

No business logic here: every action is a call on :class:`OperatorBackend` (wired in
``services.py``) or on the platform's shared services (jobs, registry, hand-offs, feedback).
Loads and training run as tracked CLI jobs, so the console only starts them and polls the
job-run table; closing the browser never stops a load.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infinstruct.platform.settings import Settings

if TYPE_CHECKING:
    import gradio as gr

    from infinstruct.platform.registry import Gate


@dataclass(frozen=True)
class OperatorBackend:
    """What the console needs from the parts; ``services.build_operator_backend`` fills it."""

    connector_names: Callable[[], list[str]]
    list_corpora: Callable[[], list[dict[str, Any]]]
    show_corpus: Callable[[str], dict[str, Any]]
    rollback_corpus: Callable[[str, int], dict[str, Any]]
    instruction_stats: Callable[[], dict[str, Any]]
    recipes: Callable[[], list[str]]
    gate: Gate | None


CORPUS_COLUMNS = ["name", "domain", "connector", "versions", "latest", "status", "documents"]
MODEL_COLUMNS = ["name", "kind", "status", "recipe", "method", "metrics", "created_at"]
JOB_COLUMNS = ["id", "kind", "status", "done", "total", "unit", "rate", "message"]


def _rows(items: list[dict[str, Any]], columns: list[str]) -> list[list[Any]]:
    return [
        [json.dumps(i.get(c)) if isinstance(i.get(c), dict) else i.get(c) for c in columns] for i in items
    ]


def _user(request: gr.Request | None) -> str:
    return getattr(request, "username", None) or "operator"


def build_operator_app(settings: Settings, backend: OperatorBackend) -> gr.Blocks:
    import gradio as gr

    from infinstruct.platform import jobs, registry
    from infinstruct.platform.chat.conversations import list_feedback
    from infinstruct.platform.chat.curation import answer_handoff, list_handoffs
    from infinstruct.platform.errors import InfinstructError
    from infinstruct.platform.uploads import check_operator_source, store_upload

    def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
        """The UI boundary: domain errors become a visible ``gr.Error``."""

        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except InfinstructError as exc:
                raise gr.Error(str(exc)) from exc

        run.__name__ = fn.__name__
        return run

    # -- corpora ---------------------------------------------------------------------
    @guarded
    def start_load(
        upload: str | None, source: str, connector: str, corpus: str, domain: str
    ) -> tuple[Any, str]:
        if upload:
            path = str(store_upload(settings, Path(upload), Path(upload).name))
        elif source.strip():
            # Only the import roots and public URLs: the server's own files are no corpus.
            path = check_operator_source(settings, source)
        else:
            raise gr.Error("upload a file or give a path or URL")
        args = ["ingest"]
        for flag, value in (("--connector", connector), ("--corpus", corpus), ("--domain", domain)):
            if value and value != "auto":
                args += [flag, value]
        # The source goes after "--": a name like "--help" stays a path, never an option.
        job = jobs.launch_cli_job(settings, kind="ingest", args=args, positional=[path])
        return job.id, f"load started as job {job.id}: {path}"

    def corpora_table() -> list[list[Any]]:
        return _rows(backend.list_corpora(), CORPUS_COLUMNS)

    @guarded
    def corpus_detail(name: str) -> dict[str, Any]:
        return backend.show_corpus(name) if name else {}

    @guarded
    def rollback(name: str, version: float) -> tuple[dict[str, Any], list[list[Any]]]:
        return backend.rollback_corpus(name, int(version)), corpora_table()

    # -- jobs ------------------------------------------------------------------------
    def job_status(job_id: float | None) -> tuple[str, dict[str, Any]]:
        if not job_id:
            return "no job", {}
        job = jobs.get_job(settings, int(job_id))
        pct = f"{100 * job.done / job.total:.0f}%" if job.total else f"{job.done:.0f} {job.unit}"
        rate = f", {job.rate:.0f} {job.unit}/s" if job.rate else ""
        line = f"job {job.id} {job.status}: {pct}{rate} {job.message}".strip()
        return line, (job.result or ({"error": job.error} if job.error else {}))

    def jobs_table() -> list[list[Any]]:
        return _rows([j.model_dump() for j in jobs.list_jobs(settings, limit=20)], JOB_COLUMNS)

    @guarded
    def start_training(recipe: str) -> tuple[Any, str]:
        if not recipe:
            raise gr.Error("pick a recipe")
        job = jobs.launch_cli_job(settings, kind="train", args=["train", recipe])
        return job.id, f"training {recipe} started as job {job.id}"

    @guarded
    def cancel(job_id: float | None) -> str:
        if not job_id:
            raise gr.Error("no job to cancel")
        return f"job {jobs.cancel_job(settings, int(job_id)).id} cancelled"

    # -- models ----------------------------------------------------------------------
    def models_table() -> list[list[Any]]:
        return _rows([v.model_dump() for v in registry.list_versions(settings)], MODEL_COLUMNS)

    @guarded
    def activate(name: str, force: bool) -> tuple[str, list[list[Any]]]:
        version, verdict = registry.activate(settings, name.strip(), gate=backend.gate, force=force)
        note = f" (gate: {verdict.reason})" if verdict else ""
        return f"{version.name} is active{note}", models_table()

    @guarded
    def rollback_model(kind: str) -> tuple[str, list[list[Any]]]:
        return f"{registry.rollback(settings, kind).name} is active again", models_table()

    # -- hand-offs and feedback -------------------------------------------------------
    def handoffs_table() -> list[list[Any]]:
        return [[h.id, h.question, h.created_at] for h in list_handoffs(settings, status="open")]

    @guarded
    def answer(handoff_id: float | None, text: str, request: gr.Request) -> tuple[str, list[list[Any]]]:
        if not handoff_id or not text.strip():
            raise gr.Error("pick a hand-off and write the answer")
        _, curated_id = answer_handoff(settings, int(handoff_id), text.strip(), by=_user(request))
        return f"answered; curated answer {curated_id} will be used from now on", handoffs_table()

    def feedback_table() -> list[list[Any]]:
        return [
            [f.get("rating"), f.get("question"), f.get("answer"), f.get("comment"), f.get("route")]
            for f in list_feedback(settings, limit=100)
        ]

    with gr.Blocks(title="infinstruct — operator") as app:
        gr.Markdown("# Operator console")
        with gr.Tab("Corpora"):
            with gr.Row():
                upload = gr.File(label="Upload a corpus file", type="filepath")
                with gr.Column():
                    source = gr.Textbox(label="…or a path / URL")
                    connector = gr.Dropdown(
                        ["auto", *backend.connector_names()], value="auto", label="Connector"
                    )
                    corpus = gr.Textbox(label="Corpus name (optional)")
                    domain = gr.Textbox(label="Domain for a new kind of corpus (optional)")
            load_btn = gr.Button("Load", variant="primary")
            load_job = gr.Number(label="Load job", precision=0)
            load_msg = gr.Markdown()
            load_status = gr.Markdown(elem_id="load-status")
            load_report = gr.JSON(label="Load report (counts, quarantine reasons)")
            corpora = gr.Dataframe(headers=CORPUS_COLUMNS, value=corpora_table, label="Corpora")
            with gr.Row():
                pick = gr.Textbox(label="Corpus")
                version = gr.Number(label="Version", precision=0)
            with gr.Row():
                show_btn, rollback_btn = (
                    gr.Button("Show versions + quarantine"),
                    gr.Button("Roll back version"),
                )
            detail = gr.JSON(label="Corpus detail")
            load_btn.click(start_load, [upload, source, connector, corpus, domain], [load_job, load_msg])
            show_btn.click(corpus_detail, pick, detail)
            rollback_btn.click(rollback, [pick, version], [detail, corpora])
        with gr.Tab("Instructions"):
            stats = gr.JSON(label="Latest instruction set")
            gr.Button("Refresh stats").click(guarded(backend.instruction_stats), None, stats)
            rebuild = gr.Button("Rebuild instruction set")
            rebuild_job = gr.Number(label="Build job", precision=0)
            rebuild_status = gr.Markdown(elem_id="rebuild-status")
            rebuild_report = gr.JSON(label="Build report")
            rebuild.click(
                guarded(
                    lambda: (
                        jobs.launch_cli_job(settings, kind="instructions", args=["instructions", "build"]).id
                    )
                ),
                None,
                rebuild_job,
            )
        with gr.Tab("Training"):
            recipe = gr.Dropdown(backend.recipes(), label="Recipe")
            with gr.Row():
                train_btn, cancel_btn = gr.Button("Train", variant="primary"), gr.Button("Cancel")
            train_job = gr.Number(label="Training job", precision=0)
            train_msg = gr.Markdown()
            train_status = gr.Markdown(elem_id="train-status")
            train_result = gr.JSON(label="Result")
            jobs_view = gr.Dataframe(headers=JOB_COLUMNS, value=jobs_table, label="Recent jobs")
            train_btn.click(start_training, recipe, [train_job, train_msg])
            cancel_btn.click(cancel, train_job, train_msg)
        with gr.Tab("Models"):
            models = gr.Dataframe(headers=MODEL_COLUMNS, value=models_table, label="Model versions")
            with gr.Row():
                model_name = gr.Textbox(label="Version to activate")
                force = gr.Checkbox(label="Force past the regression gate")
            with gr.Row():
                activate_btn = gr.Button("Activate", variant="primary")
                kind = gr.Dropdown(["dialogue", "sentiment"], value="dialogue", label="Kind")
                rollback_model_btn = gr.Button("Roll back to previous")
            model_msg = gr.Markdown(elem_id="model-msg")
            activate_btn.click(activate, [model_name, force], [model_msg, models])
            rollback_model_btn.click(rollback_model, kind, [model_msg, models])
            gr.Button("Refresh").click(models_table, None, models)
        with gr.Tab("Hand-offs"):
            handoffs = gr.Dataframe(
                headers=["id", "question", "asked"], value=handoffs_table, label="Unanswered questions"
            )
            handoff_id = gr.Number(label="Hand-off id", precision=0)
            handoff_answer = gr.Textbox(label="Answer", lines=3)
            handoff_msg = gr.Markdown()
            gr.Button("Answer", variant="primary").click(
                answer, [handoff_id, handoff_answer], [handoff_msg, handoffs]
            )
        with gr.Tab("Feedback"):
            gr.Dataframe(
                headers=["rating", "question", "answer", "comment", "route"],
                value=feedback_table,
                label="Customer feedback",
            )
        timer = gr.Timer(1.0)
        timer.tick(job_status, load_job, [load_status, load_report])
        timer.tick(job_status, rebuild_job, [rebuild_status, rebuild_report])
        timer.tick(job_status, train_job, [train_status, train_result])
        timer.tick(jobs_table, None, jobs_view)
    return app
