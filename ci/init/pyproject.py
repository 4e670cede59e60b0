"""``[tool.dbci]`` merged into a pyproject.toml with tomlkit: the keys ``dbci init`` chose are
set, and everything else (other tables, comments, key order, spelling) stays as it was."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import tomlkit
from tomlkit.container import Container
from tomlkit.exceptions import TOMLKitError
from tomlkit.items import Table

from ci.about import DOCS

#: The comment a new ``[tool.dbci]`` starts with.
HEADER = f"dbci's settings, written by `dbci init`: {DOCS}docs/configuration.md"

Values = Mapping[str, Any]  # a key's value, or a sub-table's values (a Mapping)


@dataclass(frozen=True)
class Merged:
    """The file as it would be, and the values it held that the merge replaces
    (``[tool.dbci] first_revision = 'a'``)."""

    text: str
    replaced: list[str]


def merge(text: str, values: Values) -> Merged:
    """``text`` (a pyproject.toml, or "" for a new one) with ``values`` set under
    ``[tool.dbci]``; a ValueError names what tomlkit could not parse."""
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ValueError(f"not valid TOML ({exc})") from exc
    tool = _get(doc, "tool")
    if tool is None:
        tool = doc["tool"] = tomlkit.table(is_super_table=True)
    replaced: list[str] = []
    dbci = _get(tool, "dbci")
    if dbci is None:
        tool["dbci"] = _new(values, HEADER)
    else:
        _set(dbci, values, ["tool", "dbci"], replaced)
    out = tomlkit.dumps(doc)
    return Merged(text if out == text else out.rstrip("\n") + "\n", replaced)


def _get(table: Container | Table | Any, key: str) -> Any:
    """A key as the file spells it (``first-revision`` means ``first_revision``)."""
    for name in (key, key.replace("_", "-")):
        if name in table:
            return table[name]
    return None


def _new(values: Values, header: str | None = None) -> Table:
    """A table holding ``values`` (after a comment, ``header``); a table of tables only
    (``stages``) is written as its sub-tables alone, and a table ends with a blank line."""
    nested = not header and bool(values) and all(isinstance(v, Mapping) for v in values.values())
    table = tomlkit.table(is_super_table=nested)
    if header:
        table.add(tomlkit.comment(header))
    for key, value in values.items():
        table[key] = _new(value) if isinstance(value, Mapping) else _plain(value)
    if not nested:
        table.add(tomlkit.nl())
    return table


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _set(table: Any, values: Values, path: list[str], replaced: list[str]) -> None:
    for key, value in values.items():
        found = _get(table, key)
        name = key if found is None or key in table else key.replace("_", "-")
        if isinstance(value, Mapping):
            if found is None:
                table[name] = _new(value)
            else:
                _set(found, value, [*path, name], replaced)
            continue
        value = _plain(value)
        old = found.unwrap() if hasattr(found, "unwrap") else found
        if old == value:
            continue
        if found is not None:
            replaced.append(f"[{'.'.join(path)}] {name} = {old!r}")
        table[name] = value
