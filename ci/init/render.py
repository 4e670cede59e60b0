"""The files ``dbci init`` writes, filled from ``ci/templates/``: a tiny substitution of
``{dbci:name}`` by values that are checked to be plain words, paths and lists of them, so
nothing a project holds reaches a workflow's YAML or a shell command unquoted.

A line that is only ``{dbci:if NAME}`` (or ``unless``) starts lines kept when ``NAME`` is true
(false), up to ``{dbci:end NAME}``; ``{dbci:each NAME}`` repeats its lines for each item of
``NAME``, a list of values of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from importlib import resources
from typing import Any

#: A placeholder in a template.
PLACEHOLDER = re.compile(r"\{dbci:(\w+)\}")
#: A line that starts a block.
BLOCK = re.compile(r"\{dbci:(if|unless|each) (\w+)\}")
#: What a value may hold: no quote but ``"``, no ``$``, backquote, brace, backslash or newline.
PLAIN = re.compile(r'[\w./@+,:#\[\]"* -]*')


def template(name: str) -> str:
    """The text of ``ci/templates/<name>``."""
    return resources.files("ci").joinpath("templates", name).read_text()


def render(text: str, values: Mapping[str, Any]) -> str:
    """``text`` with its blocks and placeholders filled from ``values``; a ValueError names a
    value that is not plain, a KeyError a name no value gives."""
    return "".join(_lines(text.splitlines(keepends=True), values))


def _lines(lines: list[str], values: Mapping[str, Any]) -> Iterator[str]:
    at = 0
    while at < len(lines):
        block = BLOCK.fullmatch(lines[at].strip())
        if block is None:
            yield PLACEHOLDER.sub(lambda m: _plain(values[m.group(1)]), lines[at])
            at += 1
            continue
        kind, name = block.groups()
        end = next(i for i in range(at + 1, len(lines))
                   if lines[i].strip() == f"{{dbci:end {name}}}")
        body = lines[at + 1:end]
        if kind == "each":
            for item in values[name]:
                yield from _lines(body, {**values, **item})
        elif bool(values[name]) == (kind == "if"):
            yield from _lines(body, values)
        at = end + 1


def _plain(value: str) -> str:
    if not PLAIN.fullmatch(value):
        raise ValueError(f"{value!r} cannot go into a workflow or a Makefile as it is")
    return value
