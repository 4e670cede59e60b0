"""The checks: each runs over a project (and databases) and returns a typed result; none prints."""
