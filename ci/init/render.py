"""The files ``dbci init`` writes, filled from ``ci/templates/``: a tiny substitution of
``{dbci:name}`` by values that are checked to be plain words, paths and lists of them, so
nothing a project holds reaches a workflow's YAML or a shell command unquoted."""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources

#: A placeholder in a template.
PLACEHOLDER = re.compile(r"\{dbci:(\w+)\}")
#: What a value may hold: no quote but ``"``, no ``$``, backquote, brace, backslash or newline.
PLAIN = re.compile(r'[\w./@+,:\[\]"* -]*')


def template(name: str) -> str:
    """The text of ``ci/templates/<name>``."""
    return resources.files("ci").joinpath("templates", name).read_text()


def render(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each ``{dbci:name}`` replaced by ``values[name]``; a ValueError names a
    value that is not plain, a KeyError a placeholder no value fills."""
    def fill(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        if not PLAIN.fullmatch(value):
            raise ValueError(f"{value!r} cannot go into a workflow or a Makefile as it is")
        return value

    return PLACEHOLDER.sub(fill, text)
