"""Alembic's ``upgrade`` and ``downgrade`` commands with the revision scripts read once.

``alembic.command`` builds a new ``ScriptDirectory`` for each command, which reads every
revision file again; a loop of commands over a long history would time that, not migrations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import Script, ScriptDirectory

from ci import compat


class Alembic:
    """One project's commands on one connection (handed to env.py as Alembic's cookbook does);
    the caller commits after each command."""

    def __init__(self, ini: str, connection: sa.Connection | None = None) -> None:
        self.config = Config(ini)
        self.config.attributes["connection"] = connection
        self.script = ScriptDirectory.from_config(self.config)

    def order(self) -> list[Script]:
        """Every revision, parents first (Alembic's topological order)."""
        return list(self.script.walk_revisions())[::-1]

    def upgrade(self, target: str) -> None:
        """``alembic upgrade TARGET``."""
        self._run(target, partial(compat.steps, self.script, "upgrade"))

    def downgrade(self, target: str) -> None:
        """``alembic downgrade TARGET``."""
        self._run(target, partial(compat.steps, self.script, "downgrade"))

    def undo(self, revision: str) -> None:
        """Downgrade one revision, the current head, to its parents: the step ``alembic
        downgrade`` runs for it (whose relative targets refuse a merge revision)."""
        script = self.script.get_revision(revision)
        assert script is not None
        self._run(revision, lambda target, rev: [compat.undo_step(self.script, script)])

    def _run(self, target: str, steps: Callable[[str, Any], Sequence[Any]]) -> None:
        def fn(rev: Any, context: Any) -> Sequence[Any]:
            return steps(target, rev)

        with EnvironmentContext(self.config, self.script, fn=fn, destination_rev=target):
            self.script.run_env()
