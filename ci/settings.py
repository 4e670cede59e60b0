"""``[tool.dbci]``: the project's settings, validated by pydantic, every key with its default.

Errors become one line naming the file and the key: ``pyproject.toml: [tool.dbci] number_width
= '2' is not a whole number``.
"""

from __future__ import annotations

import math
import os
import re
import string
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from ci.errors import BadInput


def env_seconds(name: str, default: float, maximum: float) -> float:
    """A number of seconds from environment variable ``name`` (``default`` when unset);
    anything but a number above 0 and at most ``maximum`` (nan and inf too) is bad input."""
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= maximum:
        raise BadInput(f"{name}={text[:40]!r}: give a number of seconds above 0 and at most "
                       f"{maximum:g} (default {default:g})")
    return value

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


#: The placeholders each naming format may use.
REVISION_PLACEHOLDERS = ("number", "id", "slug")
FILE_PLACEHOLDERS = ("revision", *REVISION_PLACEHOLDERS, "year", "month", "day", "hour",
                     "minute", "second", "epoch")
#: Numbers are zero-padded to this many digits at most.
MAX_NUMBER_WIDTH = 9


def placeholders(fmt: str, allowed: tuple[str, ...]) -> list[str]:
    """The placeholders of a naming format, in order; ValueError when it is malformed or uses
    one that is not allowed (attributes, indexes, conversions and format specs included)."""
    found = []
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        raise ValueError(f"malformed format ({exc})") from exc
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in allowed or spec or conversion:
            shown = "{" + name + (f"!{conversion}" if conversion else "") + (
                f":{spec}" if spec else "") + "}"
            raise ValueError(f"unknown placeholder {shown}; use "
                             + ", ".join("{" + a + "}" for a in allowed))
        found.append(name)
    return found


#: The highest TCP port.
MAX_PORT = 65535
#: An EC2 instance's id, or a managed (on-premises) instance's: what SSM sessions target.
SSM_TARGET = r"i-[0-9a-f]{8,17}|mi-[0-9a-f]{17}"

#: The longest first pause between two tries of a revision a stage may ask for, in seconds.
MAX_RETRY_DELAY = 600.0

#: PostgreSQL's spelling of a duration: ``5s``, ``500ms``, ``15min``, ``1h``, ``0`` (no limit).
DURATION = re.compile(r"\d+(\.\d+)?\s*(us|ms|s|min|h|d)?")


class Stage(_Table):
    """``[tool.dbci.stages.<name>]``: a deployed database and how dbci may treat it."""

    secret: StrictStr | None = None  # the Secrets Manager secret; default: secret_name's pattern
    lock_timeout: StrictStr = "5s"  # how long one statement may wait for a lock
    statement_timeout: StrictStr = "15min"  # how long one statement may run
    lock_wait: StrictInt = 600  # seconds to wait for another migration of the stage to finish
    retries: StrictInt = 5  # tries of a revision that hit lock_timeout or a deadlock
    retry_delay: StrictInt | StrictFloat = 2  # seconds before the first retry, doubled each time
    seedable: StrictBool = False  # may `seed load` put rdev seed data here
    tunnel_port: StrictInt | None = None  # reach the stage through 127.0.0.1:PORT
    tunnel: Literal["ssm"] | None = None  # "ssm": dbci opens an SSM port forward itself
    ssm_target: StrictStr | None = None  # the instance the SSM forward goes through

    @field_validator("lock_timeout", "statement_timeout")
    @classmethod
    def _duration(cls, value: str) -> str:
        if not DURATION.fullmatch(value.strip()):
            raise ValueError("is not a PostgreSQL duration such as '5s', '500ms' or '15min'")
        return value

    @field_validator("lock_wait", "retries")
    @classmethod
    def _not_negative(cls, value: int) -> int:
        if value < 0:
            raise ValueError("must not be negative")
        return value

    @field_validator("retry_delay")
    @classmethod
    def _delay(cls, value: float) -> float:
        if not 0 <= value <= MAX_RETRY_DELAY:  # nan and inf too: a sleep mid-migration
            raise ValueError(f"must be a number of seconds from 0 to {MAX_RETRY_DELAY:.0f}")
        return value

    @field_validator("tunnel_port")
    @classmethod
    def _port(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= MAX_PORT:
            raise ValueError(f"is not a TCP port (1 to {MAX_PORT})")
        return value

    @field_validator("ssm_target")
    @classmethod
    def _instance(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(SSM_TARGET, value):
            raise ValueError("is not an instance id (i-0123456789abcdef0, or mi-... for a "
                             "managed instance)")
        return value


#: The stages every project has unless it says otherwise; only rdev takes seed data.
#: A stage's name: it goes into secret names, GitHub environments and command lines.
STAGE_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}"

DEFAULT_STAGES: dict[str, dict[str, Any]] = {
    "dev": {}, "staging": {}, "prod": {}, "test": {}, "rdev": {"seedable": True}}
StageName = Annotated[str, StringConstraints(pattern=f"^{STAGE_NAME}$")]
#: A commit's full SHA, as workflows pin an action by.
COMMIT_SHA = r"[0-9a-f]{40}"


class Workflows(_Table):
    """``[tool.dbci.workflows]``: what ``dbci init`` wrote the workflows for, so that running it
    again writes the same files without its flags."""

    action_ref: StrictStr | None = None  # the commit of dbci's action they use
    stages: tuple[StageName, ...] = ("dev", "staging", "prod")  # deployed in this order
    orm: StrictStr | None = None  # the ORM's folder, relative to alembic.ini's (else env.py's)
    #: pip requirement files and project folders (``.``: the project itself) the workflows
    #: install, relative to alembic.ini's folder (None: those init finds)
    requirements: tuple[StrictStr, ...] | None = None

    @field_validator("action_ref")
    @classmethod
    def _sha(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(COMMIT_SHA, value):
            raise ValueError("is not a full commit SHA (40 lowercase hex digits)")
        return value

    @field_validator("stages")
    @classmethod
    def _deployed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value or len(set(value)) < len(value):
            raise ValueError("must name each stage once, at least one")
        return value


class Settings(_Table):
    """``[tool.dbci]`` in the pyproject.toml beside alembic.ini."""

    revision_format: StrictStr = "{number}_{id}"
    file_format: StrictStr = "{revision}_{slug}.py"
    number_width: StrictInt = 2
    first_revision: StrictStr | None = None  # the rules apply from it on; before: exempt
    exempt_through: StrictStr | None = None  # it and every revision before it: exempt
    base_ref: StrictStr | None = None
    squawk_exclude: tuple[StrictStr, ...] = DEFAULT_SQUAWK_EXCLUDE
    squawk_pg_version: StrictStr | None = None
    secret_name: StrictStr = "corpora/backend/{stage}/database"
    #: Where a team keeps its rdev seeds and the Terraform that names one: its own, so no
    #: default (the commands that need them say which setting to add).
    seed_bucket: StrictStr | None = None
    seed_prefix: StrictStr = ""
    terraform_file: StrictStr | None = None
    roundtrip_workers: StrictInt = 2  # 1: the round trip runs in this process alone
    #: A table with more rows or bytes than these on the stage makes a rewrite or a long
    #: write-blocking lock a finding (``impact/...``); smaller ones are shown only.
    impact_rows: StrictInt = Field(default=100_000, ge=0)
    impact_bytes: StrictInt = Field(default=100 * 2**20, ge=0)
    #: The stage statistics ``check`` sizes impact by when ``--stats`` is not given (a file
    #: ``dbci status --stats-out`` wrote, relative to alembic.ini's folder).
    stats_file: StrictStr | None = None
    stages: dict[StageName, Stage] = Field(
        default_factory=lambda: {k: Stage(**v) for k, v in DEFAULT_STAGES.items()})
    workflows: Workflows = Field(default_factory=Workflows)

    @model_validator(mode="before")
    @classmethod
    def _stages_over_the_defaults(cls, raw: Any) -> Any:
        """``[tool.dbci.stages.prod]`` changes prod's settings; the other stages stay."""
        if isinstance(raw, dict) and isinstance(raw.get("stages"), dict):
            given = raw["stages"]
            merged = {name: {**DEFAULT_STAGES.get(name, {}), **(given.get(name) or {})}
                      if isinstance(given.get(name, {}), dict) else given[name]
                      for name in [*DEFAULT_STAGES, *given]}
            raw = {**raw, "stages": merged}
        return raw

    @field_validator("secret_name")
    @classmethod
    def _secret_pattern(cls, value: str) -> str:
        try:
            value.format(stage="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError("may use {stage} and nothing else in braces") from exc
        return value

    @field_validator("seed_bucket")
    @classmethod
    def _bucket_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", value):
            raise ValueError("is not an S3 bucket name (3 to 63 lowercase letters, digits, "
                             "dots and hyphens)")
        return value

    @field_validator("revision_format")
    @classmethod
    def _revision_format(cls, value: str) -> str:
        if not placeholders(value, REVISION_PLACEHOLDERS):
            raise ValueError("needs a placeholder: {number}, {id} or {slug}")
        return value

    @field_validator("file_format")
    @classmethod
    def _file_format(cls, value: str) -> str:
        placeholders(value, FILE_PLACEHOLDERS)
        if not value.endswith(".py"):
            raise ValueError("must end with .py (Alembic loads revisions from .py files)")
        return value

    @field_validator("number_width")
    @classmethod
    def _number_width(cls, value: int) -> int:
        if not 1 <= value <= MAX_NUMBER_WIDTH:
            raise ValueError(f"must be between 1 and {MAX_NUMBER_WIDTH}")
        return value

    @field_validator("roundtrip_workers")
    @classmethod
    def _workers(cls, value: int) -> int:
        if value not in (1, 2):
            raise ValueError("must be 1 or 2")
        return value

    @field_validator("squawk_pg_version")
    @classmethod
    def _pg_version(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d+(\.\d+)?", value):
            raise ValueError("is not a PostgreSQL version such as '15' or '13.0'")
        return value

    @model_validator(mode="after")
    def _file_names_carry_the_revision(self) -> Settings:
        named = placeholders(self.file_format, FILE_PLACEHOLDERS)
        needed = set(placeholders(self.revision_format, REVISION_PLACEHOLDERS))
        if "revision" not in named and not needed <= set(named):
            wanted = ", ".join("{" + n + "}" for n in REVISION_PLACEHOLDERS if n in needed)
            raise ValueError(f"file_format = {self.file_format!r} must carry the revision id: "
                             f"use {{revision}}, or every placeholder of revision_format "
                             f"({wanted})")
        return self

    @model_validator(mode="after")
    def _workflows_deploy_known_stages(self) -> Settings:
        unknown = [s for s in self.workflows.stages if s not in self.stages]
        if unknown:
            raise ValueError(f"workflows.stages names {unknown[0]!r}, which is no stage; add "
                             f"a [tool.dbci.stages.{unknown[0]}] table")
        return self

    @classmethod
    def from_pyproject(cls, path: Path) -> Settings:
        """Read ``[tool.dbci]``; a missing file or table means all defaults."""
        if not path.is_file():
            return cls()
        try:
            raw = tomllib.loads(path.read_text()).get("tool", {}).get("dbci", {})
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BadInput(f"{path}: not valid TOML ({exc}); fix the file") from exc
        return cls.from_table(raw, path)

    @classmethod
    def from_table(cls, raw: dict[str, Any], path: Path) -> Settings:
        """``[tool.dbci]`` as read from ``path``, validated; errors name the file and key."""
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
          "float_type": "number",
          "tuple_type": "list of strings", "list_type": "list of strings",
          "dict_type": "table", "model_type": "table"}


def _explain(model: type[BaseModel], raw: Any, exc: ValidationError) -> str:
    """The first error as one line naming the key (``[tool.dbci.stages.dev] lock_timeout``)."""
    error = exc.errors()[0]
    if not error["loc"]:  # a rule over several keys: its message names them
        return f"[tool.dbci] {error['msg'].removeprefix('Value error, ')}"
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
    """The keys a (nested) table accepts; a table of tables (stages) skips its own keys."""
    keys = iter(path)
    for key in keys:
        annotation = model.model_fields[key].annotation if key in model.model_fields else None
        if getattr(annotation, "__origin__", None) is dict:
            next(keys, None)  # the stage's name
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
