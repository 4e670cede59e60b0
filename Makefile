# dbci: `make check` runs the PR check on the reference project, `make test` the test suite.
# Both create .venv when it is missing; every recipe below calls the `dbci` command.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DBCI := $(BIN)/dbci
PYTEST_ARGS ?=

.PHONY: install install-test check test test-pg lint-code bench \
	db/new_migration db/new_migration_auto db/test_migration

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

check: install
	$(DBCI) check

test: install-test
	$(BIN)/pytest $(PYTEST_ARGS)

# The database tests on DATABASE_URL's server (here: the system PostgreSQL 15).
test-pg: install-test
	@test -n "$(DATABASE_URL)" || { echo "test-pg: set DATABASE_URL, e.g. postgresql://postgres@127.0.0.1:5432/postgres"; exit 2; }
	DATABASE_URL="$(DATABASE_URL)" $(BIN)/pytest -m db $(PYTEST_ARGS)

lint-code: install-test
	$(BIN)/ruff check ci tests bench orm database/env.py
	$(BIN)/mypy ci

bench: install-test
	$(BIN)/python -m bench

db/new_migration: install
	@test -n "$(MESSAGE)" || { echo 'usage: make db/new_migration MESSAGE="add links"'; exit 2; }
	$(DBCI) new "$(MESSAGE)"

db/new_migration_auto: install
	@test -n "$(MESSAGE)" || { echo 'usage: make db/new_migration_auto MESSAGE="add links"'; exit 2; }
	$(DBCI) new --autogenerate "$(MESSAGE)"

db/test_migration: install
	$(DBCI) roundtrip
