"""The Training tab: pick a recipe (packaged and the operator's own), read its summary,
Train as a tracked job with a progress bar and a live loss curve, Cancel, recent jobs."""

import functools
from dataclasses import dataclass
from typing import Any

import gradio as gr

from infinstruct.ui.operator import methods
from infinstruct.ui.operator.backend import OperatorBackend
from infinstruct.ui.operator.common import FINISHED, frame, guarded, progress_html

JOB_COLUMNS = ["id", "kind", "status", "done", "total", "unit", "message"]
LOSS_COLUMNS = ["step", "loss", "series"]


def recipe_summary(backend: OperatorBackend, recipe: str) -> str:
    """Method, base model, steps and data of ``recipe``, as a short table."""
    if not recipe:
        return "Pick a recipe to see what it trains."
    if backend.recipe_summary is None:
        return f"Recipe **{recipe}**"
    info = backend.recipe_summary(recipe)
    lines = [f"**{recipe}** — {info.get('description', '')}".rstrip(" —"), "", "| | |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in info.items() if k != "description"]
    return "\n".join(lines)


def train(backend: OperatorBackend, recipe: str) -> tuple[int, str, list[dict[str, Any]], Any]:
    job_id = backend.start_training(recipe)
    return job_id, progress_html(backend.job(job_id), "training"), [], frame([], LOSS_COLUMNS)


def cancel(backend: OperatorBackend, job_id: int | None) -> str:
    backend.cancel(job_id)
    return progress_html(backend.job(int(job_id)) if job_id else None, "training")


def _with_point(backend: OperatorBackend, job: Any, points: list[dict[str, Any]]) -> list[dict[str, Any]]:
    loss = backend.loss_point(job)
    if loss is not None and job.done and (not points or points[-1]["step"] != job.done):
        points = [*points, {"step": job.done, "loss": loss, "series": "training"}]
    result = job.result or {}
    curve = (result.get("train") or {}).get("loss_curve")
    if job.status == "succeeded" and curve:  # the run's own record beats what the polls caught
        points = [{"step": step, "loss": value, "series": "training"} for step, value in curve]
    if job.status == "succeeded" and result.get("validation_loss") is not None and points:
        # Validation runs once, at the end: drawn as a level line over the run (one point
        # alone would draw no line).
        loss, first, last = result["validation_loss"], points[0]["step"], points[-1]["step"]
        points = [*points, *({"step": s, "loss": loss, "series": "validation (end)"} for s in (first, last))]
    return points


def watch_training(
    backend: OperatorBackend, job_id: int | None, seen: int | None, points: list[dict[str, Any]]
) -> tuple[Any, ...]:
    """Each tick: progress, the loss curve so far; once the job ends, the models table refreshes."""
    if not job_id:
        return gr.skip(), gr.skip(), points, seen, gr.skip(), gr.skip()
    job = backend.job(int(job_id))
    if seen == job.id:
        return progress_html(job, "training"), gr.skip(), points, seen, gr.skip(), gr.skip()
    points = _with_point(backend, job, points or [])
    plot = frame(points, LOSS_COLUMNS)
    if job.status in FINISHED:  # the new version appears in the Models table and on the Try tab
        from infinstruct.ui.operator.models import models_frame

        versions = gr.Dropdown(choices=backend.dialogue_versions())
        return progress_html(job, "training"), plot, points, job.id, models_frame(backend), versions
    return progress_html(job, "training"), plot, points, seen, gr.skip(), gr.skip()


def jobs_frame(backend: OperatorBackend) -> Any:
    return frame(backend.jobs_rows(), JOB_COLUMNS)


@dataclass
class TrainingTab:
    job: Any
    seen: Any
    points: Any
    status: Any
    plot: Any
    jobs: Any


def build(backend: OperatorBackend) -> TrainingTab:
    on = functools.partial
    recipes = backend.recipes()
    with gr.Row():
        recipe = gr.Dropdown(recipes, label="Recipe", value=None, elem_id="recipe", scale=3)
        train_btn = gr.Button("Train", variant="primary", scale=1)
        cancel_btn = gr.Button("Cancel", scale=1)
    summary = gr.Markdown(recipe_summary(backend, ""), elem_id="recipe-summary")
    with gr.Accordion("Training methods compared on this data", open=True):
        methods.build(backend)
    job, seen, points = gr.State(None), gr.State(None), gr.State([])
    status = gr.HTML(progress_html(None, "training"), elem_id="train-status")
    plot = gr.LinePlot(
        frame([], LOSS_COLUMNS), x="step", y="loss", color="series", title="Loss by step", elem_id="loss-plot"
    )
    jobs = gr.Dataframe(jobs_frame(backend), label="Recent jobs", interactive=False, elem_id="jobs")
    recipe.change(guarded(on(recipe_summary, backend)), recipe, summary)
    train_btn.click(guarded(on(train, backend)), recipe, [job, status, points, plot])
    cancel_btn.click(guarded(on(cancel, backend)), job, status)
    return TrainingTab(job, seen, points, status, plot, jobs)
