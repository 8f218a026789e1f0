# seer-client: see README.md. The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup system-deps test test-sql test-py lint demo devstack bench bench-full clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

system-deps:
	bash scripts/install-system-deps.sh

# One throw-away Postgres for the whole run: pgTAP files and pytest share it.
test: setup system-deps
	$(PY) -m seer_devstack.postgres exec -- $(PY) -m pytest $(PYTEST_ARGS)

SUPABASE := node_modules/.bin/supabase
PYRIGHT := node_modules/.bin/pyright

# ruff; mypy --strict and pyright (strict for the SDK; config in pyproject.toml); the generated
# blocking API is current; `supabase db lint` (plpgsql_check) on a throw-away Postgres with the
# migrations applied reports nothing at level warning.
lint: setup system-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PYRIGHT) --pythonpath $(PY)
	$(PY) -c "import sys, pathlib; from seer_client import _sync_gen as g; \
	  sys.exit(g.formatted() != pathlib.Path(g.OUT).read_text() and 'seer_client/_sync_api.py is stale: python -m seer_client._sync_gen')"
	$(PY) -m seer_devstack.postgres exec -- bash scripts/db-lint.sh

demo: setup system-deps
	$(PY) -m seer_client._tools.demo

devstack: setup system-deps
	$(PY) -m seer_devstack start

# `make bench`: every section at a size that still shows what it measures, < 8 min on 2 shared
# cores; `make bench-full`: the long sizes (1M-2M rows, 30 s cost-model steps), ~25-30 min.
bench: setup system-deps
	$(PY) -m bench

bench-full: setup system-deps
	BENCH_FULL=1 $(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
