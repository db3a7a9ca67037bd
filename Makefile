# Two commands set up a fresh machine: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_CASES ?= 300
DEMO_SEED ?= 7

.PHONY: help install demo test bench lint format clean mlflow-ui repro chromium

help:  ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[dev,transformers,spark]"
	@touch $(STAMP)

install: $(STAMP)  ## create .venv and install the package with dev tools

demo: $(STAMP)  ## run the main job end to end on the embedded synthetic export
	$(BIN)/oversight demo --cases $(DEMO_CASES) --seed $(DEMO_SEED)

# The report's browser test needs a headless Chromium: Debian's package, installed only when no
# chromium binary is on PATH (CI runs as root; elsewhere through sudo).
chromium:  ## install Debian's chromium for the report's browser test, if missing
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 \
	    || command -v google-chrome >/dev/null 2>&1; then :; \
	else \
	    SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	    echo "installing Debian's chromium (headless browser for the report test)"; \
	    $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	fi

test: $(STAMP) chromium  ## run the test suite
	$(BIN)/python -m pytest -q

bench: $(STAMP)  ## run the benchmarks and print figures for docs/benchmarks.md
	$(BIN)/python benchmarks/run.py

lint: $(STAMP)  ## ruff lint and format check
	$(BIN)/ruff check pipeline tests benchmarks
	$(BIN)/ruff format --check pipeline tests benchmarks

format: $(STAMP)  ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix pipeline tests benchmarks
	$(BIN)/ruff format pipeline tests benchmarks

mlflow-ui: $(STAMP)  ## open the MLflow UI on the local tracking store (http://127.0.0.1:5000)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///experiments/mlflow.db --host 127.0.0.1 --port 5000

repro: $(STAMP)  ## run the DVC pipeline (synth, prepare, train, evaluate)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

clean:  ## remove generated data and caches (keeps .venv)
	rm -rf data/raw/* data/interim/* data/processed/* .pytest_cache .ruff_cache
