"""Targets: what a command points at, what dbci may do there, and its name safe to print."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import server

from ci.config import Config
from ci.db import masking
from ci.errors import BadInput
from ci.stages import targets
from ci.stages.targets import Kind, Target


def test_only_scratch_databases_may_be_created_or_dropped() -> None:
    url = "postgresql+psycopg2://u:pw-one@db:5432/app"
    assert Target(Kind.SCRATCH, url).may_create_databases
    assert not Target(Kind.DATABASE, url).may_create_databases
    assert not Target(Kind.STAGE, url, stage="prod").may_create_databases


def test_the_display_name_never_holds_the_password() -> None:
    with masking.scope():
        stage = Target(Kind.STAGE, "postgresql://u:Pw-Two@rds.example:5432/portal", stage="prod")
        assert stage.display == "stage prod (rds.example:5432/portal)"
        given = Target(Kind.DATABASE, "postgresql://u:Pw-Two@h/app?password=Pw-Three")
        assert given.display == "h/app"
        assert masking.mask("Pw-Two Pw-Three") == "*** ***"


def test_given_needs_a_url(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(BadInput, match="no database given; pass --database-url"):
        targets.given(Config.load("alembic.ini"))
    target = targets.given(Config.load("alembic.ini", "postgresql://u@h/app"))
    assert (target.kind, target.url) == (Kind.DATABASE, "postgresql+psycopg2://u@h/app")


@pytest.mark.db
def test_a_scratch_target_is_a_new_database_dropped_afterwards(project: Path) -> None:
    config = Config.load("alembic.ini")
    with targets.scratch(config) as target, targets.connect(target) as connection:
        assert target.kind is Kind.SCRATCH
        name = connection.exec_driver_sql("SELECT current_database()").scalar()
    engine = sa.create_engine(server())
    with engine.connect() as connection:
        left = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_database WHERE datname = %(n)s", {"n": name}).scalar()
    engine.dispose()
    # the test server's role may create databases: the scratch one is new, and gone after
    assert name != sa.engine.make_url(server()).database and name.startswith("dbci_")
    assert left == 0
