# dbci: `make check` runs the PR check on the reference project, `make test` the test suite.
# Both create .venv when it is missing; every recipe below calls the `dbci` command.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DBCI := $(BIN)/dbci
PYTEST_ARGS ?=

.PHONY: install install-test check test test-pg lint-code docs templates bench oracle \
	db/new_migration db/new_migration_auto db/test_migration db/migrate db/rollback db/status \
	db/dump db/local/load-schema db/seed/build db/seed/upload db/init_remote_dev tf/bump \
	db/tunnel lock lock-check

# Values reach the recipes as environment variables, quoted by the shell: a message or a path
# with quotes or other metacharacters stays one argument and runs nothing.
export MESSAGE DEPLOYMENT_STAGE PORT OUTFILE INFILE LOCAL_DB SEED
LOCAL_DB ?= corpora_local
SEED ?= seed.sql
TUNNEL = $${PORT:+--tunnel-port "$$PORT"}
NEED_STAGE = @test -n "$$DEPLOYMENT_STAGE" || { echo "$@: set DEPLOYMENT_STAGE (dev, staging, prod, test, rdev)"; exit 2; }

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

# The database tests on DATABASE_URL's server (here: the system PostgreSQL 15), but those no
# server version changes: GitHub's semantics (the workflows' emulation), bad input refused before
# any SQL (the corpus), secrets checked on a server of their own, the wheel, the sample PR
# comment (made on the embedded server whatever DATABASE_URL says), and the tests marked
# one_server (an embedded server of their own, or no database). `make test` runs them on the
# embedded 18.
ONE_SERVER = --ignore=tests/workflows --ignore=tests/reliability/test_corpus.py \
	--ignore=tests/reliability/test_secrets.py --ignore=tests/test_package.py \
	--ignore=tests/test_docs_samples.py
test-pg: install-test
	@test -n "$(DATABASE_URL)" || { echo "test-pg: set DATABASE_URL, e.g. postgresql://postgres@127.0.0.1:5432/postgres"; exit 2; }
	DATABASE_URL="$(DATABASE_URL)" $(BIN)/pytest -m "db and not one_server" $(ONE_SERVER) \
		$(PYTEST_ARGS)

lint-code: install-test
	$(BIN)/ruff check ci tests bench orm database/env.py
	$(BIN)/mypy ci

# docs/rules.md from the rule registry (ci/rules/), and docs/sample-pr-comment.md from a real
# check of a sample branch (ci/docs_samples.py); a test fails while either page is stale.
docs: install
	$(BIN)/python -m ci.rules docs/rules.md
	$(BIN)/python -m ci.docs_samples docs/sample-pr-comment.md

# dbci init's workflow templates (ci/templates/workflows/) after a change to .github/workflows/:
# the change merged into each template; one that meets a template's placeholders or blocks is
# left as a conflict to resolve there. A test fails while a workflow and its template differ.
templates: install
	$(BIN)/python -m ci.init.templates

bench: install-test
	$(BIN)/python -m bench

# dbci's round trip against the naive oracle (a fresh database per revision) on real-shaped
# histories: ORACLE_ARGS="--revisions 300 --seeds 1,2,3 [--database-url URL]".
ORACLE_ARGS ?= --revisions 300 --seeds 1,2,3
oracle: install-test
	$(BIN)/python -m bench.oracle $(ORACLE_ARGS)

# The hashed lock the deploy workflows install from (--require-hashes): pyproject's dependencies
# and its build backend, for the runners' Python 3.11 on Linux. Run after changing dependencies.
LOCK_FLAGS := --generate-hashes --python-version 3.11 --python-platform x86_64-manylinux_2_28
lock: | $(BIN)/python
	test -x $(BIN)/uv || $(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml requirements/build.in $(LOCK_FLAGS) \
		--custom-compile-command "make lock" --quiet -o requirements/deploy.txt

# Fails when pyproject asks for something requirements/deploy.txt does not pin with hashes.
lock-check: | $(BIN)/python
	$(BIN)/python requirements/check.py

db/new_migration: install
	@test -n "$$MESSAGE" || { echo 'usage: make db/new_migration MESSAGE="add links"'; exit 2; }
	$(DBCI) new "$$MESSAGE"

db/new_migration_auto: install
	@test -n "$$MESSAGE" || { echo 'usage: make db/new_migration_auto MESSAGE="add links"'; exit 2; }
	$(DBCI) new --autogenerate "$$MESSAGE"

db/test_migration: install
	$(DBCI) roundtrip

# A deployed stage: DEPLOYMENT_STAGE=dev make db/migrate [PORT=5432 through `make db/tunnel`'s forward]
db/migrate: install
	$(NEED_STAGE)
	$(DBCI) migrate --stage "$$DEPLOYMENT_STAGE" $(TUNNEL)

# An SSM port forward to a stage's database (its ssm_target), open until Ctrl-C, for work by hand:
# DEPLOYMENT_STAGE=dev make db/tunnel PORT=5432, then `make db/migrate PORT=5432` elsewhere.
db/tunnel: install
	$(NEED_STAGE)
	@test -n "$$PORT" || { echo 'usage: make db/tunnel DEPLOYMENT_STAGE=dev PORT=5432'; exit 2; }
	$(DBCI) tunnel --stage "$$DEPLOYMENT_STAGE" --port "$$PORT"

db/rollback: install
	$(NEED_STAGE)
	$(DBCI) migrate --stage "$$DEPLOYMENT_STAGE" --revision -1 --allow-downgrade $(TUNNEL)

db/status: install
	$(NEED_STAGE)
	$(DBCI) status --stage "$$DEPLOYMENT_STAGE" $(TUNNEL)

db/dump: install
	$(NEED_STAGE)
	@test -n "$$OUTFILE" || { echo 'usage: DEPLOYMENT_STAGE=prod make db/dump OUTFILE=prod.dump'; exit 2; }
	$(DBCI) db dump --stage "$$DEPLOYMENT_STAGE" --out "$$OUTFILE" $(TUNNEL)

# Into DATABASE_URL's empty database, else a new database LOCAL_DB on the embedded server.
db/local/load-schema: install
	@test -n "$$INFILE" || { echo 'usage: make db/local/load-schema INFILE=prod.dump'; exit 2; }
	if [ -n "$$DATABASE_URL" ]; then $(DBCI) db load-schema "$$INFILE"; \
	else $(DBCI) db load-schema "$$INFILE" --create "$$LOCAL_DB"; fi

# rdev seed data: build the head's seed (from the one data_load_path names), upload it, bump.
db/seed/build: install
	$(DBCI) seed build --out "$$SEED"

db/seed/upload: install
	$(DBCI) seed upload "$$SEED"

tf/bump: install
	$(DBCI) tf bump

# An rdev stack's migration task on boot: seed an empty database, then migrate to head.
db/init_remote_dev: install
	$(DBCI) seed load --stage "$${DEPLOYMENT_STAGE:-rdev}" $(TUNNEL)
