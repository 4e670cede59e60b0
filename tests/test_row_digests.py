"""ci/row_digests.py: which statements may write rows (the rest is proven by the round trip)."""

from __future__ import annotations

import pytest

from ci.db.runners import verb
from ci.row_digests import SCHEMA_ONLY


@pytest.mark.parametrize(("statement", "word"), [
    ("ALTER TABLE t ADD COLUMN x int", "ALTER"),
    ("  -- backfill\n  update t set x = 1", "UPDATE"),
    ("/* seed */ INSERT INTO t VALUES (1)", "INSERT"),
    ("DO $$ BEGIN PERFORM 1; END $$", "DO"),
    ("", ""),
])
def test_the_first_word_skips_comments(statement: str, word: str) -> None:
    assert verb(statement) == word


@pytest.mark.parametrize("word", ["INSERT", "UPDATE", "DELETE", "TRUNCATE", "COPY", "DO", "CALL",
                                  "WITH", "MERGE", "SELECT", "EXPLAIN"])
def test_statements_that_may_write_rows_are_watched(word: str) -> None:
    assert word not in SCHEMA_ONLY
