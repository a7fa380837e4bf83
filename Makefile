# ftproxy: `make run` serves the gateway locally; `make test` runs the suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 4000
WORKERS ?= 2
export FTPROXY_CONFIG ?= config/example.yaml
export FTPROXY_MASTER_KEY ?= sk-ftproxy-local-master

.PHONY: install run test lint bench migrate clean

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

run: migrate
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	@echo "ftproxy on http://$(HOST):$(PORT)  (master key: $$FTPROXY_MASTER_KEY, config: $$FTPROXY_CONFIG)"
	$(BIN)/python -m gateway_site.serve --bind $(HOST):$(PORT) --workers $(WORKERS)

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache
