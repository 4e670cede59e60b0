"""A migration plan bound to what it was made from, so that what an approver read is what runs.

``dbci migrate --sql --plan-out FILE`` writes one: the stage, the explicit revisions it goes
from and to (never ``heads``), each step with the sha256 of its revision file, the sha256 of
``env.py`` (it runs too), and the SQL with its sha256. ``dbci migrate --plan FILE`` runs it
only while every one of those still holds; :func:`changed_files` says what no longer does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ci.atomic_files import replace_files
from ci.config import Config
from ci.errors import BadInput
from ci.findings import display_path
from ci.history import History, load_history

#: The plan file's format; a plan of another format is refused, never guessed at.
FORMAT = 1


def sha256(data: bytes) -> str:
    """The hex sha256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PlannedStep:
    """One revision the plan runs, in one direction, and the file it was read from."""

    revision: str
    direction: Literal["upgrade", "downgrade"]
    file: str  # relative to the folder of alembic.ini
    sha256: str


@dataclass(frozen=True)
class BoundPlan:
    """What ``migrate --plan`` may run: these steps, from ``start`` to ``end``, on ``stage``."""

    stage: str
    start: tuple[str, ...]
    end: tuple[str, ...]
    steps: tuple[PlannedStep, ...]
    env_sha256: str
    sql: str

    @property
    def sql_sha256(self) -> str:
        return sha256(self.sql.encode())

    def to_json(self) -> dict[str, Any]:
        """The plan file's document."""
        return {"dbci_plan": FORMAT, "stage": self.stage, "from": list(self.start),
                "to": list(self.end), "steps": [vars(s) for s in self.steps],
                "env_sha256": self.env_sha256, "sql": self.sql, "sql_sha256": self.sql_sha256}

    def write(self, path: Path) -> None:
        """Write the plan file atomically."""
        replace_files({path: json.dumps(self.to_json(), indent=2) + "\n"})


def _relative(config: Config, path: Path) -> str:
    try:
        return path.resolve().relative_to(config.project_dir.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def env_file(history: History) -> Path:
    """The project's env.py (where Alembic runs it from), which runs with every revision."""
    return Path(history.script_dir.env_py_location)


def bind(config: Config, history: History, stage: str, start: tuple[str, ...],
         end: tuple[str, ...], steps: list[tuple[str, str]], sql: str) -> BoundPlan:
    """A plan of ``steps`` (revision, direction), bound to the files as they are now."""
    planned = tuple(PlannedStep(rev, direction,  # type: ignore[arg-type]
                                _relative(config, history.get(rev).path),
                                sha256(history.get(rev).path.read_bytes()))
                    for rev, direction in steps)
    return BoundPlan(stage, start, end, planned, sha256(env_file(history).read_bytes()), sql)


def write_plan(config: Config, stage: str, start: tuple[str, ...], end: tuple[str, ...],
               steps: list[tuple[str, str]], sql: list[str], out: Path) -> BoundPlan:
    """Bind ``migrate --sql``'s result to this code (:func:`bind`) and write it to ``out``."""
    bound = bind(config, load_history(config), stage, start, end, steps,
                 "\n".join(sql) + "\n" if sql else "")
    bound.write(out)
    return bound


class _StepDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    revision: str = Field(min_length=1)
    direction: Literal["upgrade", "downgrade"]
    file: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class _PlanDocument(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    dbci_plan: Literal[1]
    stage: str = Field(min_length=1)
    from_: list[str] = Field(alias="from")
    to: list[str]
    steps: list[_StepDocument]
    env_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    sql: str
    sql_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


def read(path: Path) -> BoundPlan:
    """A plan file as written by ``--plan-out``; BadInput (exit 2) for anything else, a plan
    whose SQL does not match its own sha256 included."""
    where = display_path(path)
    try:
        doc = _PlanDocument.model_validate_json(path.read_bytes())
    except OSError as exc:
        raise BadInput(f"{where}: cannot read the plan ({exc.strerror}); pass the file "
                       "`dbci migrate --sql --plan-out` wrote") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(map(str, first["loc"])) or "the document"
        raise BadInput(f"{where}: not a plan of `dbci migrate --plan-out` ({field}: "
                       f"{first['msg']}); make a new one") from exc
    plan = BoundPlan(doc.stage, tuple(doc.from_), tuple(doc.to),
                     tuple(PlannedStep(s.revision, s.direction, s.file, s.sha256)
                           for s in doc.steps), doc.env_sha256, doc.sql)
    if plan.sql_sha256 != doc.sql_sha256:
        raise BadInput(f"{where}: the plan's SQL does not match its sha256 (edited after it "
                       "was made?); make a new plan")
    return plan


def changed_files(config: Config, history: History, plan: BoundPlan) -> list[str]:
    """The files the plan was bound to that differ now, are gone, or no longer hold their
    step's revision: each named."""
    changed = []
    env = env_file(history)
    if not env.is_file() or sha256(env.read_bytes()) != plan.env_sha256:
        changed.append(_relative(config, env))
    known = history.by_id
    for step in plan.steps:
        path = config.project_dir / step.file
        holds = step.revision in known and _relative(config, known[step.revision].path) == \
            step.file
        if not holds or not path.is_file() or sha256(path.read_bytes()) != step.sha256:
            changed.append(step.file)
    return changed
