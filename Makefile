# ftproxy: `make run` serves the gateway locally; `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 4000
WORKERS ?= 2
# The server (gateway_site/serve.py, which `make bench` measures too):
# gunicorn's threaded workers over WSGI; `run` starts the sync watcher beside
# it. In production, nginx in front (deploy/nginx.conf) absorbs slow clients.
SERVE ?= $(BIN)/python -m gateway_site.serve --bind $(HOST):$(PORT) --workers $(WORKERS)
export FTPROXY_CONFIG ?= config/example.yaml
# The well-known local master key only for the example config: a config of
# your own that reads FTPROXY_MASTER_KEY stops at start-up until you set it.
ifeq ($(FTPROXY_CONFIG),config/example.yaml)
export FTPROXY_MASTER_KEY ?= sk-ftproxy-local-master
endif
VAR_DIR := $(or $(FTPROXY_VAR_DIR),var)
# Keeps job statuses fresh while the server runs.
SYNC = $(BIN)/python manage.py ftproxy_sync_jobs --watch
# `run` restarts a watcher that exits by itself (status not 0), after this
# many seconds; one that was asked to stop (status 0) stays stopped.
SYNC_RESTART_SECONDS ?= 5
SUPERVISED_SYNC = trap 'kill -TERM $$child 2>/dev/null; wait $$child 2>/dev/null; exit 0' TERM; \
	while :; do \
	  $(SYNC) >>"$(VAR_DIR)/sync.log" & child=$$!; \
	  wait $$child; code=$$?; \
	  [ $$code -eq 0 ] && exit 0; \
	  echo "ftproxy: the sync watcher exited with status $$code; restarting it in $(SYNC_RESTART_SECONDS) s" >&2; \
	  sleep $(SYNC_RESTART_SECONDS) & wait $$!; \
	done

.PHONY: install run test lint bench docs migrate clean

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

# Metrics of every process (workers, sync watcher) add up in one directory,
# emptied at each start. The watcher's round summaries go to var/sync.log (its
# errors stay on the terminal); a watcher that dies is restarted (above).
# Ctrl-C stops the server and the watcher; if the server stops by itself,
# the watcher is stopped too.
run: migrate
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "ftproxy on http://$(HOST):$(PORT)  (master key: $$FTPROXY_MASTER_KEY, config: $$FTPROXY_CONFIG)"
	@rm -rf "$(VAR_DIR)/prometheus" && mkdir -p "$(VAR_DIR)/prometheus"
	@export PROMETHEUS_MULTIPROC_DIR="$$(cd "$(VAR_DIR)/prometheus" && pwd)"; \
	( $(SUPERVISED_SYNC) ) & sync=$$!; \
	trap 'kill -TERM $$sync 2>/dev/null; wait $$sync 2>/dev/null' EXIT; \
	trap 'exit 130' INT TERM; \
	$(SERVE)

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: migrate
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/uploads.py

# The docs site (mkdocs.yml, docs/), built into site/; --strict fails on any warning.
docs: install
	$(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) var .pytest_cache site
