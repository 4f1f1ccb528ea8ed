"""The Corpora tab: upload or point at a source, preview, Load (a tracked job), the load
report (counts and a quarantine-reasons table), the corpora table (click a row), its
versions (click one), visibility to customers, and roll back."""

import functools
from dataclasses import dataclass
from typing import Any

import gradio as gr

from infinstruct.ui.operator.backend import LoadMapping, OperatorBackend
from infinstruct.ui.operator.common import FINISHED, counts_markdown, frame, guarded, progress_html

CORPUS_COLUMNS = ["name", "domain", "connector", "visibility", "versions", "latest", "status", "documents"]
VERSION_COLUMNS = ["version", "status", "read", "loaded", "duplicates", "quarantined", "created_at"]
QUARANTINE_COLUMNS = ["reason", "records", "sample"]
REPORT_KEYS = ("read", "records", "loaded", "duplicates", "near_duplicates", "quarantined", "seconds")


def corpora_frame(backend: OperatorBackend) -> Any:
    return frame(backend.corpora_rows(), CORPUS_COLUMNS)


def versions_frame(backend: OperatorBackend, name: str) -> Any:
    return frame(backend.versions_rows(name), VERSION_COLUMNS)


def load(
    backend: OperatorBackend,
    upload: str | None,
    source: str,
    connector: str,
    corpus: str,
    domain: str,
    columns: str | None = "",
    agent_roles: str | None = "",
    thresholds: str | None = "",
) -> tuple[int, str]:
    # A textbox in a closed accordion arrives as None, not "".
    mapping = LoadMapping(columns or "", agent_roles or "", thresholds or "")
    mapping.cli_args()  # a malformed mapping is refused here, before anything is staged
    path = backend.stage_source(upload, source)
    job_id = backend.start_load(path, connector, corpus, domain, mapping)
    return job_id, progress_html(backend.job(job_id), "load")


def preview(
    backend: OperatorBackend,
    upload: str | None,
    source: str,
    connector: str,
    columns: str | None = "",
    agent_roles: str | None = "",
    thresholds: str | None = "",
) -> str:
    """What a load would do (``ingest --dry-run``): the plan, counts and the first records."""
    # A textbox in a closed accordion arrives as None, not "".
    mapping = LoadMapping(columns or "", agent_roles or "", thresholds or "")
    mapping.cli_args()
    found = backend.preview(backend.stage_source(upload, source), connector, mapping)
    if found is None:
        return "Preview is not available on this server; Load shows the same report."
    plan = f"connector **{found.get('connector', '?')}** ({found.get('confidence', 0):.2f}), "
    plan += f"corpus **{found.get('corpus', '?')}**"
    if found.get("mapping"):
        plan += ", mapping " + ", ".join(f"`{k}` ← `{v}`" for k, v in dict(found["mapping"]).items())
    parts = [plan, counts_markdown("Would load", found), _records_markdown(found.get("records") or [])]
    if found.get("refused"):
        parts.insert(1, f"**Refused:** {found['refused']}")
    return "\n\n".join(p for p in parts if p)


def _records_markdown(records: list[dict[str, Any]]) -> str:
    """The first records as they would be stored, one short row each."""
    if not records:
        return ""

    def cell(value: Any) -> str:
        text = " ".join(str(value if value is not None else "").split()).replace("|", "\\|")
        return text if len(text) <= 80 else text[:79] + "…"

    rows = ["**First records**", "", "| kind | title | text | label |", "|---|---|---|---|"]
    rows += [
        f"| {cell(r.get('kind'))} | {cell(r.get('title'))} | {cell(r.get('text'))} | {cell(r.get('label'))} |"
        for r in records[:5]
    ]
    return "\n".join(rows)


def load_report(backend: OperatorBackend, result: dict[str, Any]) -> tuple[str, Any]:
    """Counts of a finished load and its quarantine reasons with a sample row each."""
    counts = {k: result[k] for k in REPORT_KEYS if k in result}
    title = f"Loaded {result.get('corpus', '')} v{result.get('version', '?')}"
    if result.get("unchanged"):
        title += " (unchanged: the same content was loaded before)"
    rows = backend.quarantine_rows(str(result.get("corpus", "")), result.get("version"))
    if not rows and result.get("quarantine_reasons"):
        rows = [{"reason": r, "records": n, "sample": ""} for r, n in result["quarantine_reasons"].items()]
    return counts_markdown(title, counts), frame(rows, QUARANTINE_COLUMNS)


def watch_load(backend: OperatorBackend, job_id: int | None, seen: int | None) -> tuple[Any, ...]:
    """Each tick: the progress bar; once the job ends, the report and a fresh corpora table."""
    if not job_id:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip(), seen
    job = backend.job(int(job_id))
    bar = progress_html(job, "load")
    if job.status not in FINISHED or seen == job.id:
        return bar, gr.skip(), gr.skip(), gr.skip(), seen
    report, quarantine = ("", frame([], QUARANTINE_COLUMNS))
    if job.status == "succeeded":
        report, quarantine = load_report(backend, job.result or {})
    return bar, report, quarantine, corpora_frame(backend), job.id


def pick_corpus(backend: OperatorBackend, evt: gr.SelectData) -> tuple[str, Any, str]:
    name = str(evt.row_value[0]) if evt.row_value else ""
    visibility = str(evt.row_value[3]) if evt.row_value and len(evt.row_value) > 3 else "internal"
    return name, versions_frame(backend, name), visibility


def pick_version(evt: gr.SelectData) -> int | None:
    return int(evt.row_value[0]) if evt.row_value else None


def set_visibility(backend: OperatorBackend, name: str, visibility: str) -> tuple[str, Any]:
    return backend.set_visibility(name, visibility), corpora_frame(backend)


def rollback(backend: OperatorBackend, name: str, version: int | None) -> tuple[str, Any, Any]:
    note = backend.rollback(name, version)
    return note, versions_frame(backend, name), corpora_frame(backend)


@dataclass
class CorporaTab:
    table: Any
    job: Any
    seen: Any
    status: Any
    report: Any
    quarantine: Any


def _source_inputs(backend: OperatorBackend) -> tuple[Any, ...]:
    with gr.Row():
        upload = gr.File(label="Upload a corpus file", type="filepath")
        with gr.Column():
            source = gr.Textbox(label="…or a path / URL")
            connector = gr.Dropdown(["auto", *backend.connector_names()], value="auto", label="Connector")
            corpus = gr.Textbox(label="Corpus name", placeholder="optional: a name for this corpus")
            domain = gr.Textbox(label="Domain", placeholder="optional: for a new kind of corpus")
    with gr.Accordion("Mapping for a generic file (helpdesk export, JSON, Parquet)", open=False):
        columns = gr.Textbox(
            label="Field mapping",
            placeholder="e.g. conversation=ticket_id role=author_role text=body time=created_at",
        )
        with gr.Row():
            roles = gr.Textbox(label="Agent roles", placeholder="e.g. agent,admin")
            thresholds = gr.Textbox(label="Score thresholds", placeholder="e.g. -0.05,0.05")
    return upload, source, connector, corpus, domain, columns, roles, thresholds


def build(backend: OperatorBackend) -> CorporaTab:
    on = functools.partial
    upload, source, connector, corpus, domain, *mapping = _source_inputs(backend)
    with gr.Row():
        preview_btn = gr.Button("Preview")
        load_btn = gr.Button("Load", variant="primary")
    preview_md = gr.Markdown(elem_id="load-preview")
    job, seen = gr.State(None), gr.State(None)
    status = gr.HTML(progress_html(None, "load"), elem_id="load-status")
    report = gr.Markdown(elem_id="load-report")
    quarantine = gr.Dataframe(frame([], QUARANTINE_COLUMNS), label="Quarantine reasons", interactive=False)
    gr.Markdown("### Corpora — click a row to see its versions")
    table = gr.Dataframe(corpora_frame(backend), label="Corpora", interactive=False, elem_id="corpora")
    picked, picked_version = gr.State(""), gr.State(None)
    with gr.Row():
        visibility = gr.Radio(["internal", "public"], value="internal", label="Visible to customers")
        visibility_btn = gr.Button("Set visibility")
        rollback_btn = gr.Button("Roll back selected version")
    note = gr.Markdown(elem_id="corpus-note")
    versions = gr.Dataframe(
        frame([], VERSION_COLUMNS), label="Versions", interactive=False, elem_id="versions"
    )
    preview_btn.click(guarded(on(preview, backend)), [upload, source, connector, *mapping], preview_md)
    load_btn.click(
        guarded(on(load, backend)), [upload, source, connector, corpus, domain, *mapping], [job, status]
    )
    table.select(guarded(on(pick_corpus, backend)), None, [picked, versions, visibility])
    versions.select(guarded(pick_version), None, picked_version)
    visibility_btn.click(guarded(on(set_visibility, backend)), [picked, visibility], [note, table])
    rollback_btn.click(guarded(on(rollback, backend)), [picked, picked_version], [note, versions, table])
    return CorporaTab(table, job, seen, status, report, quarantine)
