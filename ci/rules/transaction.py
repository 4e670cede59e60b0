"""The transaction rule: a revision never ends Alembic's transaction under it."""

from __future__ import annotations

from ci.rules.base import rule

COMMIT_OUTSIDE_AUTOCOMMIT_BLOCK = rule(
    "commit-outside-autocommit-block",
    summary="`upgrade()` or `downgrade()` calls `.commit()` outside an autocommit block: "
    "`alembic upgrade` exits 0 but rolls back what follows it, and the version stamp.",
    doc="""``upgrade()`` or ``downgrade()`` calls ``.commit()`` (``op.get_bind().commit()``)
    outside ``with op.get_context().autocommit_block():``. That ends the transaction Alembic
    runs the revision in; what follows, and Alembic's own update of ``alembic_version``, land
    in a transaction nobody commits. With an env.py that runs the migrations in one
    transaction (Alembic's template), ``alembic upgrade`` exits 0 and the end of the session
    rolls that work back, so the next upgrade runs the revision again. (``dbci migrate``
    commits what is left open, but no other tool does.)""",
    fix="run what must be outside a transaction inside `with op.get_context().autocommit_block():`"
    " instead of committing",
)
