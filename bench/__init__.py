"""The dbci benchmark: synthetic Alembic histories, and dbci roundtrip timed against the rest.

``make bench`` (or ``.venv/bin/python -m bench --sizes 50,200,1000``) writes bench/results.md;
``python -m bench.generate OUT --revisions N`` writes one history to look at or to break
(``--break-downgrade K``, ``--drift-orm``); ``python -m bench.realistic OUT`` a real-shaped one.

    generate.py  a project folder: the reference project's alembic.ini and env.py, revisions, ORM
    steps.py     the kinds of revision, each an upgrade with its exact downgrade
    schema.py    the schema a history builds, kept current revision by revision
    models.py    the ORM module matching the schema at head
    measure.py   the four timed processes: dbci roundtrip, plain alembic, naive loop,
                 pytest-alembic (in its own venv, bench/.venv-pytest-alembic)
    naive.py     the naive loop, run as a process of its own
    migrations.py  Alembic's upgrade and downgrade with the revision scripts read once
    realistic.py real-shaped histories: branches and merges, enums, backfills, self-commits at
                 the commit boundaries, downgrades that forget or raise
    oracle.py    the slow, obviously right reference (a fresh database per revision, pg_dump)
                 dbci's round trip is checked against (``make oracle``, tests/test_oracle.py)
    report.py    the markdown table and the targets
    __main__.py  the runner
"""
