# dbci's recipes under the seed's names, written by `dbci init` (dbci's docs/configuration.md).
# `include {dbci:include}` in the Makefile at the repository's root adds them; each calls `dbci`
# (on PATH, or set DBCI) with the alembic.ini beside this file. Values reach the recipes as
# environment variables, quoted by the shell: a message or a path with quotes or other
# metacharacters stays one argument and runs nothing.

DBCI_CONFIG := $(dir $(lastword $(MAKEFILE_LIST))){dbci:ini}
DBCI ?= dbci
LOCAL_DB ?= {dbci:local_db}
SEED ?= seed.sql
export MESSAGE DEPLOYMENT_STAGE PORT OUTFILE INFILE LOCAL_DB SEED
DBCI_RUN = $(DBCI) --config "$(DBCI_CONFIG)"
DBCI_TUNNEL = $${PORT:+--tunnel-port "$$PORT"}
DBCI_NEED_STAGE = @test -n "$$DEPLOYMENT_STAGE" || { echo "$@: set DEPLOYMENT_STAGE ({dbci:stages})"; exit 2; }

.PHONY: db/new_migration db/new_migration_auto db/test_migration db/migrate db/rollback \
	db/status db/dump db/local/load-schema db/seed/build db/seed/upload db/init_remote_dev \
	tf/bump db/tunnel

db/new_migration:
	@test -n "$$MESSAGE" || { echo 'usage: make db/new_migration MESSAGE="add links"'; exit 2; }
	$(DBCI_RUN) new "$$MESSAGE"

db/new_migration_auto:
	@test -n "$$MESSAGE" || { echo 'usage: make db/new_migration_auto MESSAGE="add links"'; exit 2; }
	$(DBCI_RUN) new --autogenerate "$$MESSAGE"

db/test_migration:
	$(DBCI_RUN) roundtrip

# A deployed stage: DEPLOYMENT_STAGE=dev make db/migrate [PORT=5432 through `make db/tunnel`'s forward]
db/migrate:
	$(DBCI_NEED_STAGE)
	$(DBCI_RUN) migrate --stage "$$DEPLOYMENT_STAGE" $(DBCI_TUNNEL)

# An SSM port forward to a stage's database (its ssm_target), open until Ctrl-C, for work by hand:
# DEPLOYMENT_STAGE=dev make db/tunnel PORT=5432, then `make db/migrate PORT=5432` elsewhere.
db/tunnel:
	$(DBCI_NEED_STAGE)
	@test -n "$$PORT" || { echo 'usage: make db/tunnel DEPLOYMENT_STAGE=dev PORT=5432'; exit 2; }
	$(DBCI_RUN) tunnel --stage "$$DEPLOYMENT_STAGE" --port "$$PORT"

db/rollback:
	$(DBCI_NEED_STAGE)
	$(DBCI_RUN) migrate --stage "$$DEPLOYMENT_STAGE" --revision -1 --allow-downgrade $(DBCI_TUNNEL)

db/status:
	$(DBCI_NEED_STAGE)
	$(DBCI_RUN) status --stage "$$DEPLOYMENT_STAGE" $(DBCI_TUNNEL)

db/dump:
	$(DBCI_NEED_STAGE)
	@test -n "$$OUTFILE" || { echo 'usage: DEPLOYMENT_STAGE=prod make db/dump OUTFILE=prod.dump'; exit 2; }
	$(DBCI_RUN) db dump --stage "$$DEPLOYMENT_STAGE" --out "$$OUTFILE" $(DBCI_TUNNEL)

# Into DATABASE_URL's empty database, else a new database LOCAL_DB on the embedded server.
db/local/load-schema:
	@test -n "$$INFILE" || { echo 'usage: make db/local/load-schema INFILE=prod.dump'; exit 2; }
	if [ -n "$$DATABASE_URL" ]; then $(DBCI_RUN) db load-schema "$$INFILE"; \
	else $(DBCI_RUN) db load-schema "$$INFILE" --create "$$LOCAL_DB"; fi

# rdev seed data: build the head's seed (from the one data_load_path names), upload it, bump.
db/seed/build:
	$(DBCI_RUN) seed build --out "$$SEED"

db/seed/upload:
	$(DBCI_RUN) seed upload "$$SEED"

tf/bump:
	$(DBCI_RUN) tf bump

# An rdev stack's migration task on boot: seed an empty database, then migrate to head.
db/init_remote_dev:
	$(DBCI_RUN) seed load --stage "$${DEPLOYMENT_STAGE:-{dbci:seed_stage}}" $(DBCI_TUNNEL)
