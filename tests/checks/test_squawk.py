"""squawk on the captured SQL: squawk settings it refuses are refused where it runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import set_dbci

from ci.alembic_env import Statement
from ci.checks.squawk import lint_sql
from ci.config import Config
from ci.errors import EXIT_BAD_INPUT, BadInput
from ci.history import load_history

CREATE = [Statement('CREATE TABLE persistence_schema."Note" (id integer)', autocommit=False)]


@pytest.mark.parametrize(("line", "said"), [
    ('squawk_exclude = ["require-concurent-index-creation"]',
     "invalid value 'require-concurent-index-creation' for '--exclude <rule>': invalid rule "
     "name require-concurent-index-creation"),
    ('squawk_pg_version = "99999999999"',
     "invalid value '99999999999' for '--pg-version <PG_VERSION>'"),
], ids=["unknown-rule", "version"])
def test_squawk_settings_it_refuses_are_bad_input_where_it_runs(project: Path, line: str,
                                                                said: str) -> None:
    set_dbci(project, line)
    config = Config.load("alembic.ini")  # reading them runs nothing, so refuses nothing
    rev = load_history(config).revisions[-1]
    with pytest.raises(BadInput) as info:
        lint_sql(config, [rev], {rev.id: CREATE}, "16.4")
    assert info.value.exit_code == EXIT_BAD_INPUT
    assert info.value.message.startswith(
        f"{project / 'pyproject.toml'}: [tool.dbci] squawk_exclude or squawk_pg_version: "
        f"squawk refuses them ({said}")


def test_squawk_settings_it_accepts_lint_as_they_say(project: Path) -> None:
    """``prefer-bigint-over-int`` is one of the rules dbci excludes unless told otherwise."""
    set_dbci(project, 'squawk_exclude = ["prefer-robust-stmts"]', 'squawk_pg_version = "13.0"')
    config = Config.load("alembic.ini")
    rev = load_history(config).revisions[-1]
    found = lint_sql(config, [rev], {rev.id: CREATE}, "16.4")
    assert [(f.rule, f.revision) for f in found] == [("prefer-bigint-over-int", rev.id)]
