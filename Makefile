# Two commands work on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONFIG ?= deploy/demo/warden.yaml

.PHONY: run test lint perf clean

$(BIN)/warden: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres]'
	touch $(BIN)/warden

run: $(BIN)/warden
	$(BIN)/warden run --config $(CONFIG)

test: $(BIN)/warden
	$(BIN)/python -m pytest -q

lint: $(BIN)/warden
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

perf: $(BIN)/warden
	$(BIN)/python perf/run.py

clean:
	rm -rf $(VENV) var/*.db var/*.db-*
