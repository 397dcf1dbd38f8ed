# The two commands of the README: `make up` and `make test`. Everything they need is
# installed from here, so a fresh machine (or CI's clean clone) needs nothing by hand.
SHELL := /bin/bash
PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null)
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: up test install system lint bench clean unit integration e2e

$(STAMP): pyproject.toml libs/common/pyproject.toml lab/pyproject.toml $(wildcard services/*/pyproject.toml) $(wildcard uv.lock)
	@bash deploy/setup-system.sh
	@if [ -z "$(UV)" ]; then $(PYTHON) -m pip install -q --disable-pip-version-check uv; fi
	uv sync --all-packages --frozen 2>/dev/null || uv sync --all-packages
	@touch $(STAMP)

install: $(STAMP)

up: install
	uv run --no-sync autorke up

test: install lint
	uv run --no-sync pytest

unit: install
	uv run --no-sync pytest tests/unit

integration: install
	uv run --no-sync pytest tests/integration

e2e: install
	uv run --no-sync pytest tests/e2e

lint: install
	uv run --no-sync ruff check --no-cache .
	uv run --no-sync lint-imports --no-cache

bench: install
	uv sync --all-packages --group bench --inexact
	uv run --no-sync python -m bench $(BENCH)

clean:
	rm -rf $(VENV) .autorke
