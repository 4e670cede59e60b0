"""``[tool.dbci]``: the project's settings, validated by pydantic, every key with its default.

Errors become one line naming the file and the key: ``pyproject.toml: [tool.dbci] number_width
= '2' is not a whole number``.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError

from ci.errors import BadInput

#: Squawk rules that do not speak to lock safety, or that dbci's own migrate settles
#: (it sets lock_timeout and statement_timeout, and Alembic runs each revision in a transaction).
DEFAULT_SQUAWK_EXCLUDE = (
    "prefer-robust-stmts",
    "prefer-bigint-over-int",
    "prefer-bigint-over-smallint",
    "prefer-identity",
    "prefer-text-field",
    "prefer-timestamptz",
    "require-lock-timeout",
    "require-statement-timeout",
    "transaction-nesting",
)


class _Table(BaseModel):
    """A TOML table: unknown keys are errors, values are checked strictly, nothing changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Settings(_Table):
    """``[tool.dbci]`` in the pyproject.toml beside alembic.ini."""

    revision_format: StrictStr = "{number}_{id}"
    file_format: StrictStr = "{revision}_{slug}.py"
    number_width: StrictInt = 2
    first_revision: StrictStr | None = None
    base_ref: StrictStr | None = None
    squawk_exclude: tuple[StrictStr, ...] = DEFAULT_SQUAWK_EXCLUDE
    squawk_pg_version: StrictStr | None = None

    @classmethod
    def from_pyproject(cls, path: Path) -> Settings:
        """Read ``[tool.dbci]``; a missing file or table means all defaults."""
        if not path.is_file():
            return cls()
        try:
            raw = tomllib.loads(path.read_text()).get("tool", {}).get("dbci", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BadInput(f"{path}: not valid TOML ({exc}); fix the file") from exc
        try:
            return cls.model_validate(_snake(raw))
        except ValidationError as exc:
            raise BadInput(f"{path}: {_explain(cls, raw, exc)}") from exc


def _snake(value: Any) -> Any:
    """``file-format`` means ``file_format``, in nested tables too."""
    if isinstance(value, dict):
        return {k.replace("-", "_"): _snake(v) for k, v in value.items()}
    return value


_KINDS = {"string_type": "string", "int_type": "whole number", "bool_type": "true or false",
          "tuple_type": "list of strings", "list_type": "list of strings",
          "dict_type": "table", "model_type": "table", "float_type": "number"}


def _explain(model: type[BaseModel], raw: Any, exc: ValidationError) -> str:
    """The first error as one line naming the key (``[tool.dbci.stages.dev] lock_timeout``)."""
    error = exc.errors()[0]
    loc = [str(part) for part in error["loc"]]
    keys = [part for part in loc if not part.isdigit()]
    table = ".".join(["tool", "dbci", *keys[:-1]])
    key = keys[-1] if keys else "?"
    if error["type"] == "extra_forbidden":
        known = _known(model, keys[:-1])
        return (f"unknown setting {key!r} in [{table}]"
                + (f"; known: {', '.join(known)}" if known else ""))
    value = _lookup(raw, keys)
    kind = _KINDS.get(error["type"])
    if kind is not None:
        if len(loc) > len(keys):  # one item of a list
            kind = "list of strings"
        return f"[{table}] {key} = {value!r} is not a {kind}"
    return f"[{table}] {key} = {value!r}: {error['msg'].removeprefix('Value error, ')}"


def _known(model: type[BaseModel], path: list[str]) -> list[str]:
    """The keys a (nested) table accepts."""
    for key in path:
        annotation = model.model_fields[key].annotation if key in model.model_fields else None
        args = getattr(annotation, "__args__", ())
        found = [a for a in (annotation, *args) if isinstance(a, type)
                 and issubclass(a, BaseModel)]
        if not found:
            return []
        model = found[0]
    return list(model.model_fields)


def _lookup(raw: Any, keys: list[str]) -> Any:
    for key in keys:
        if not isinstance(raw, dict):
            return raw
        raw = raw.get(key, raw.get(key.replace("_", "-")))
    return raw
