"""The dbci benchmark: synthetic Alembic histories, and dbci roundtrip timed against the rest.

``make bench`` (or ``.venv/bin/python -m bench --sizes 50,200,1000``) writes bench/results.md;
``python -m bench.generate OUT --revisions N`` writes one history to look at or to break
(``--break-downgrade K``, ``--drift-orm``).

    generate.py  a project folder: the reference project's alembic.ini and env.py, revisions, ORM
    steps.py     the kinds of revision, each an upgrade with its exact downgrade
    schema.py    the schema a history builds, kept current revision by revision
    models.py    the ORM module matching the schema at head
    measure.py   the four timed processes: dbci roundtrip, plain alembic, naive loop,
                 pytest-alembic (in its own venv, bench/.venv-pytest-alembic)
    naive.py     the naive loop, run as a process of its own
    report.py    the markdown table and the targets
    __main__.py  the runner
"""
