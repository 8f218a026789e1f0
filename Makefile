# seer-client: see README.md. The two commands a newcomer needs: `make demo` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup system-deps test test-sql test-py lint demo devstack bench clean

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
	$(PY) -m seer_client.devstack.postgres exec -- $(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

demo: setup system-deps
	$(PY) -m seer_client.demo

devstack: setup system-deps
	$(PY) -m seer_client.devstack start

bench: setup system-deps
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
