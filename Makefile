# Two commands work on a fresh machine: `make run` and `make test`.
# `make run` installs the runtime alone (and the PostgreSQL driver); `make test`, `make lint`
# and `make docs` add what they need, each once (the stamps under .venv/).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= deploy/demo/warden.yaml

.PHONY: run test lint docs docs-serve perf clean

$(BIN)/warden: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[postgres]'
	touch $(BIN)/warden

$(VENV)/.dev: $(BIN)/warden
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $@

$(VENV)/.docs: $(BIN)/warden
	$(BIN)/pip install --quiet -e '.[docs]'
	touch $@

run: $(BIN)/warden
	$(BIN)/warden run --config $(CONFIG)

test: $(VENV)/.dev
	$(BIN)/python -m pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

docs: $(VENV)/.docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

docs-serve: $(VENV)/.docs
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

perf: $(VENV)/.dev
	$(BIN)/python perf/run.py

clean:
	rm -rf $(VENV) site var/*.db var/*.db-*
