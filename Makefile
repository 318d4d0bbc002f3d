# Tessera: `make run` serves the whole platform on the embedded default; `make test` runs the
# whole suite (lint, types, layers, editor tests, Python tests).

PYTHON_BOOT ?= python3
VENV := .venv
BIN := $(VENV)/bin
PYTHON := $(BIN)/python
EDITOR := frontend/editor
PY_STAMP := $(VENV)/.installed
# Format clients (Datumaro, cityscapesscripts, ultralytics) that load exports in the tests; a
# venv of their own because Datumaro pins an older Pillow and ultralytics needs torch.
CLIENTS_VENV := .venv-clients
CLIENTS_STAMP := $(CLIENTS_VENV)/.installed
JS_STAMP := $(EDITOR)/node_modules/.installed
EDITOR_BUNDLE := frontend/static/editor/editor.js
EDITOR_SOURCES := $(shell find $(EDITOR)/src $(EDITOR)/index.html $(EDITOR)/vite.config.ts $(EDITOR)/tsconfig.json -type f 2>/dev/null)
# A database URL without DEBUG is production, which needs SECRET_KEY; a check, test
# or benchmark run without one gets a random key of its own (never one written in the repo).
WITH_KEY := SECRET_KEY="$${SECRET_KEY:-test-$$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')}"
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: help install clients editor run test lint typecheck test-python test-editor worker \
	bench-metrics bench-editor bench-export bench-pipeline clean

help:
	@echo "make run        serve Tessera on http://$(HOST):$(PORT) with demo data (embedded default)"
	@echo "make test       the whole suite: lint, types, layers, editor tests, Python tests"
	@echo "make worker     a Celery worker (needs REDIS_URL and DATABASE_URL)"
	@echo "make bench-*    benchmarks: metrics, editor, export, pipeline"

# --- installation ------------------------------------------------------------------------------

$(PY_STAMP): requirements.txt requirements-dev.txt constraints.txt
	test -x $(PYTHON) || $(PYTHON_BOOT) -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

# Every client package is pinned in the file, so nothing is resolved (--no-deps).
$(CLIENTS_STAMP): requirements-clients.txt
	test -x $(CLIENTS_VENV)/bin/python || $(PYTHON_BOOT) -m venv $(CLIENTS_VENV)
	$(CLIENTS_VENV)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r requirements-clients.txt
	touch $@

$(JS_STAMP): $(EDITOR)/package.json $(EDITOR)/package-lock.json
	npm ci --prefix $(EDITOR) --no-audit --no-fund
	touch $@

$(EDITOR_BUNDLE): $(JS_STAMP) $(EDITOR_SOURCES)
	npm run build --prefix $(EDITOR)

install: $(PY_STAMP) $(JS_STAMP)

clients: $(CLIENTS_STAMP)

editor: $(EDITOR_BUNDLE)

# --- running -------------------------------------------------------------------------------------

run: install editor
	$(PYTHON) manage.py migrate --noinput
	$(PYTHON) manage.py seed_demo
	@echo ""
	@echo "Tessera is starting on http://$(HOST):$(PORT)/  (sign in with a login above; Ctrl+C stops it)"
	DEBUG=1 $(PYTHON) manage.py runserver $(HOST):$(PORT)

worker: install
	$(BIN)/celery -A config worker --loglevel=INFO --concurrency=2

# --- checks --------------------------------------------------------------------------------------

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install
	$(WITH_KEY) $(BIN)/mypy .
	npm run typecheck --prefix $(EDITOR)

test-editor: $(JS_STAMP)
	npm test --prefix $(EDITOR)

# pytest exits 5 when a selection collects no tests; that is not a failure of the suite.
test-python: install editor $(CLIENTS_STAMP)
	$(WITH_KEY) $(BIN)/pytest $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

test: lint typecheck test-editor test-python

# --- benchmarks (speed is measured here, never in tests) ------------------------------------------

bench-metrics: install
	$(PYTHON) bench/bench_metrics.py

bench-editor: install editor
	$(PYTHON) bench/bench_editor.py

bench-export: install
	$(PYTHON) bench/bench_export.py

bench-pipeline: install editor
	$(WITH_KEY) $(PYTHON) bench/bench_pipeline.py

clean:
	rm -rf $(VENV) $(CLIENTS_VENV) $(EDITOR)/node_modules frontend/static/editor var/test-*
