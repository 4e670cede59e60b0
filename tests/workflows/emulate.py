"""A small GitHub Actions runner for tests: whole workflow runs, as GitHub runs them.

What it does as GitHub does: jobs in `needs` order; job and step `if:` (an `if` without a status
function means `success() && (...)`; a job's status is its ancestors'); the expression language
(literals, `!`, `==`, `!=`, `<`..., `&&`, `||`, loose typed comparison, case-insensitive strings,
`fromJSON`, `toJSON`, `format`, `contains`, `startsWith`, `endsWith`, the status functions) over the
contexts `github`, `inputs`, `vars` (an environment's over the repository's), `env`, `matrix`,
`needs`, `steps`, `runner`, `job`; matrix expansion; reusable workflows (`uses: $/...` or `./...`,
typed inputs with defaults); each step's own `GITHUB_OUTPUT`, `GITHUB_ENV`, `GITHUB_PATH` and
`GITHUB_STEP_SUMMARY` files; job outputs (dropped when they hold a masked value); a `run:` step
written to a file and run by its shell: the step's `shell:`, else the job's, else the workflow's
`defaults.run.shell`, else `bash -e {0}` (no pipefail); `bash` is `bash --noprofile --norc -eo
pipefail {0}`; composite actions (`uses: ./path`, read from the workspace, or dbci's own at any
ref, read from this repository): `with:` over the inputs' defaults, an undeclared input a warning,
`github.action_path` and `GITHUB_ACTION_PATH`, every `run:` with the shell it must declare, the
steps' own `steps` context and status, the outputs evaluated even after a failure, the step
failed when one of its steps fails; workflow commands read from stdout and stderr (one pipe),
`::add-mask::` masking every later line of the job's log, as shown; the raw log is kept too.

Stand-ins: checkout copies the test's project (a fresh copy per job); setup-python gives the
test's Python as `python-path`, AWS credentials do nothing (the test's environment has Python,
dbci and moto); upload/download-artifact copy to and from a per-run folder with the actions'
naming and pattern rules; the sticky comment writes `comments/<header>.md`; `gh` is a fake on
PATH keeping issues and pull requests in a JSON file and recording each call; steps whose id is
in `skip` (the pip installs) are not run, and one that installs into a virtual environment
(`VIRTUAL_ENV` in its env) gives it what the test has instead (`_install_into`).
"""

from __future__ import annotations

import fnmatch
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ci.about import ACTION

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
BIN = Path(sys.executable).parent
FAKE_GH = Path(__file__).with_name("fake_gh.py")
EXPRESSION = re.compile(r"\$\{\{((?:(?!\}\}).)*)\}\}", re.S)
STATUS_FUNCTION = re.compile(r"\b(success|failure|always|cancelled)\s*\(", re.I)
TOKEN = re.compile(r"\s*(?:(?P<num>\d+(?:\.\d+)?)|(?P<str>'(?:[^']|'')*')"
                   r"|(?P<op>==|!=|<=|>=|&&|\|\||[!<>()\[\],.*])|(?P<name>[A-Za-z_][\w-]*))")
SHELLS = {"bash": "bash --noprofile --norc -eo pipefail {0}", "sh": "sh -e {0}",
          "python": "python {0}", None: "bash -e {0}"}


def load(name: str) -> dict[str, Any]:
    """A workflow as data (PyYAML reads `on:` as True; it is put back as "on")."""
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    if True in data:
        data["on"] = data.pop(True)
    return data


# -- expressions --

def truthy(value: Any) -> bool:
    return not (value in (None, False, "") or (isinstance(value, float | int) and
                                              (value == 0 or math.isnan(value))))


def text(value: Any) -> str:
    """A value as GitHub interpolates it into a string."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value, indent=2)
    return "" if value is None else str(value)


def _number(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool | int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip() or 0)
        except ValueError:
            return math.nan
    return math.nan


def _compare(op: str, a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        a, b = a.casefold(), b.casefold()
    elif type(a) is not type(b) or not isinstance(a, str | int | float | bool | type(None)):
        if isinstance(a, dict | list) and isinstance(b, dict | list):
            return (a is b) == (op == "==")
        a, b = _number(a), _number(b)
    return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _get(value: Any, key: Any) -> Any:
    if isinstance(value, dict):
        return next((v for k, v in value.items() if str(k).casefold() == str(key).casefold()),
                    None)
    if isinstance(value, list) and isinstance(key, int | float) and 0 <= int(key) < len(value):
        return value[int(key)]
    return None


def _format(template: str, *args: Any) -> str:
    out = re.sub(r"\{(\d+)\}", lambda m: text(args[int(m.group(1))]),
                 template.replace("{{", "\0").replace("}}", "\1"))
    return out.replace("\0", "{").replace("\1", "}")


def _contains(haystack: Any, needle: Any) -> bool:
    if isinstance(haystack, list):
        return any(_compare("==", item, needle) for item in haystack)
    return text(needle).casefold() in text(haystack).casefold()


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "fromjson": lambda s: json.loads(s), "tojson": lambda v: json.dumps(v, indent=2),
    "format": _format, "contains": _contains,
    "startswith": lambda a, b: text(a).casefold().startswith(text(b).casefold()),
    "endswith": lambda a, b: text(a).casefold().endswith(text(b).casefold())}

Node = Callable[[dict[str, Any]], Any]


class _Parser:
    """Recursive descent over the tokens; each rule returns a function of the contexts, so
    `&&` and `||` short-circuit as GitHub's do."""

    def __init__(self, source: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos, source = 0, source.strip()
        while pos < len(source):
            match = TOKEN.match(source, pos)
            if not match or match.end() == pos:
                raise ValueError(f"cannot read expression {source!r} at {pos}")
            kind = match.lastgroup or ""
            self.tokens.append((kind, match.group(kind)))
            pos = match.end()
        self.at = 0

    def peek(self) -> str | None:
        return self.tokens[self.at][1] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.tokens[self.at]
        if expected is not None and token[1] != expected:
            raise ValueError(f"expected {expected!r}, got {token[1]!r}")
        self.at += 1
        return token

    def parse(self) -> Node:
        node = self.or_()
        if self.at != len(self.tokens):
            raise ValueError(f"unexpected {self.peek()!r}")
        return node

    def or_(self) -> Node:
        node = self.and_()
        while self.peek() == "||":
            self.take()
            left, right = node, self.and_()
            node = lambda c, a=left, b=right: (v if truthy(v := a(c)) else b(c))  # noqa: E731
        return node

    def and_(self) -> Node:
        node = self.compare()
        while self.peek() == "&&":
            self.take()
            left, right = node, self.compare()
            node = lambda c, a=left, b=right: (b(c) if truthy(v := a(c)) else v)  # noqa: E731
        return node

    def compare(self) -> Node:
        node = self.unary()
        while self.peek() in ("==", "!=", "<", "<=", ">", ">="):
            op = self.take()[1]
            left, right = node, self.unary()
            node = lambda c, o=op, a=left, b=right: _compare(o, a(c), b(c))  # noqa: E731
        return node

    def unary(self) -> Node:
        if self.peek() == "!":
            self.take()
            inner = self.unary()
            return lambda c: not truthy(inner(c))
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while self.peek() in (".", "["):
            if self.take()[1] == ".":
                key = self.take()[1]
                node = lambda c, n=node, k=key: _get(n(c), k)  # noqa: E731
            else:
                index = self.or_()
                self.take("]")
                node = lambda c, n=node, i=index: _get(n(c), i(c))  # noqa: E731
        return node

    def primary(self) -> Node:
        kind, value = self.take()
        if value == "(":
            node = self.or_()
            self.take(")")
            return node
        if kind == "num":
            return lambda c: float(value)
        if kind == "str":
            return lambda c: value[1:-1].replace("''", "'")
        if value in ("true", "false", "null"):
            return lambda c: {"true": True, "false": False, "null": None}[value]
        if self.peek() == "(":
            self.take()
            args: list[Node] = []
            while self.peek() != ")":
                args.append(self.or_())
                if self.peek() == ",":
                    self.take()
            self.take(")")
            name = value.casefold()
            if name in ("success", "failure", "always", "cancelled"):
                return lambda c: True if name == "always" else c["__status__"][name]
            function = FUNCTIONS[name]
            return lambda c: function(*(a(c) for a in args))
        return lambda c: _get(c, value)


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    """One expression's value."""
    return _Parser(expression).parse()(context)


def substitute(value: Any, context: dict[str, Any]) -> Any:
    """Every ``${{ }}`` in a value (strings, lists, mappings); a string that is one expression
    keeps the expression's type, as GitHub's `with:` and `matrix:` do."""
    if isinstance(value, dict):
        return {k: substitute(v, context) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, context) for v in value]
    if not isinstance(value, str):
        return value
    whole = EXPRESSION.fullmatch(value.strip())
    if whole:
        return evaluate(whole.group(1), context)
    return EXPRESSION.sub(lambda m: text(evaluate(m.group(1), context)), value)


def condition(source: Any, context: dict[str, Any]) -> bool:
    """An `if:`; without a status function it is `success() && (...)`, as on GitHub."""
    source = "success()" if source is None else str(source) if not isinstance(source, bool) \
        else str(source).lower()
    whole = EXPRESSION.fullmatch(source.strip())
    source = whole.group(1) if whole else source
    if not STATUS_FUNCTION.search(source):
        source = f"success() && ({source})"
    return truthy(evaluate(source, context))


# -- runs --

@dataclass
class Step:
    """One step as run: its outcome and what it wrote."""

    name: str
    id: str | None
    outcome: str
    outputs: dict[str, str] = field(default_factory=dict)
    raw: str = ""  # stdout and stderr, as the step wrote them
    shown: str = ""  # the log as GitHub shows it: masked, no ::add-mask:: lines
    command: list[str] = field(default_factory=list)
    code: int | None = None  # a `run:` step's exit code
    uses: str | None = None
    with_: dict[str, Any] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)  # a composite action's, as run


@dataclass
class Job:
    """One job (one matrix instance) as run."""

    key: str
    result: str
    matrix: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)
    summary: str = ""
    environment: str | None = None
    concurrency: dict[str, Any] | None = None
    runs_on: Any = None
    masks: list[str] = field(default_factory=list)
    annotations: list[str] = field(default_factory=list)

    def step(self, name: str) -> Step:
        return next(s for s in self.steps if s.name == name or s.id == name)


@dataclass
class Run:
    """A workflow run: every job's instances by key (a called workflow's as `caller/job`)."""

    root: Path  # this run's runner folders and artifacts
    repository: Path  # what outlives runs: comments, the fake gh's issues and pull requests
    jobs: dict[str, list[Job]] = field(default_factory=dict)
    cancelled: bool = False

    def job(self, key: str) -> Job:
        (only,) = self.jobs[key]
        return only

    def result(self, key: str) -> str:
        results = {j.result for j in self.jobs.get(key, [])}
        for result in ("failure", "cancelled", "success"):
            if result in results:
                return result
        return "skipped"

    def ran(self) -> list[str]:
        """The keys of the jobs that ran (not skipped)."""
        return [k for k, jobs in self.jobs.items() if any(j.result != "skipped" for j in jobs)]

    def written(self) -> dict[Path, str]:
        """Every file the runs left (runner temp, workspaces, artifacts, comments, gh state)."""
        return {p: p.read_text(errors="replace") for p in sorted(self.repository.rglob("*"))
                if p.is_file() and ".git" not in p.parts and ".venv" not in p.parts}

    def artifact(self, name: str) -> Path:
        return self.root / "artifacts" / name

    @property
    def comments(self) -> dict[str, str]:
        return {p.stem: p.read_text() for p in (self.repository / "comments").glob("*.md")}

    @property
    def gh_calls(self) -> list[dict[str, Any]]:
        log = self.repository / "gh" / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@dataclass
class _Scope:
    """What every step of one job shares as it runs, a composite action's steps included."""

    run: Run
    job: Job
    env: dict[str, Any]  # the job's `env`, as GITHUB_ENV files change it
    process: dict[str, str]  # the runner's variables and PATH, as GITHUB_PATH files change it
    temp: Path
    workspace: Path


class Emulator:
    """Runs workflows of this repository against a test's project, as GitHub would."""

    def __init__(self, root: Path, checkout: Path, *, event_name: str,
                 github: dict[str, Any] | None = None, vars: dict[str, str] | None = None,
                 environments: dict[str, dict[str, str]] | None = None,
                 services: dict[str, dict[str, str]] | None = None,
                 matrix: dict[str, dict[str, list[Any]]] | None = None,
                 skip: tuple[str, ...] = ("install",), cancel_before: str | None = None,
                 before: dict[str, Callable[[], None]] | None = None) -> None:
        self.root, self.checkout, self.skip = root, checkout, skip
        self.jobs_started = self.runs = 0
        self.before = before or {}  # test code to run as a job is about to start, by its key
        self.vars, self.environments = vars or {}, environments or {}
        self.services, self.matrix, self.cancel_before = services or {}, matrix or {}, cancel_before
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=checkout, capture_output=True,
                             text=True).stdout.strip() or "0" * 40
        self.github = {"event_name": event_name, "event": {}, "ref": "refs/heads/main",
                       "ref_name": "main", "sha": sha, "repository": "example/dbci",
                       "repository_owner": "example", "run_id": "4242", "run_attempt": "1",
                       "server_url": "https://github.com", "actor": "octocat", "head_ref": "",
                       "base_ref": "", "token": "ghs_" + uuid.uuid4().hex, **(github or {})}
        (root / "bin").mkdir(parents=True, exist_ok=True)
        gh = root / "bin" / "gh"
        gh.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(FAKE_GH.parent)!r})"
                      "\nimport fake_gh\n"
                      f"sys.exit(fake_gh.main(sys.argv[1:], {str(root / 'gh')!r}))\n")
        gh.chmod(0o755)

    def run(self, workflow: str, inputs: dict[str, Any] | None = None) -> Run:
        """One run of a workflow (its `on:` inputs given as typed values)."""
        self.runs += 1
        run = Run(self.root / f"run-{self.runs}", self.root)
        spec = load(workflow)
        declared = (spec["on"].get("workflow_dispatch") or {}).get("inputs") \
            if isinstance(spec["on"], dict) else None
        self._workflow(run, spec, self._inputs(declared or {}, inputs or {}), "")
        return run

    def _inputs(self, declared: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
        unknown = set(given) - set(declared)
        assert not unknown, f"inputs the workflow does not declare: {unknown}"
        out = {}
        for name, spec in declared.items():
            value = given.get(name, spec.get("default"))
            kind = spec.get("type", "string")
            assert value is not None or not spec.get("required"), f"input {name} is required"
            if kind == "boolean":
                assert isinstance(value, bool) or value is None, f"{name}: not a boolean: {value!r}"
                value = bool(value)
            elif kind == "number":
                value = float(value or 0)
            else:
                value = "" if value is None else text(value)
                if kind == "choice":
                    assert value in spec["options"], f"{name}: {value!r} is not an option"
            out[name] = value
        return out

    def _workflow(self, run: Run, spec: dict[str, Any], inputs: dict[str, Any],
                  prefix: str) -> None:
        jobs = spec["jobs"]
        needs = {j: _listed(jobs[j].get("needs")) for j in jobs}
        done: set[str] = set()
        while len(done) < len(jobs):
            ready = [j for j in jobs if j not in done and set(needs[j]) <= done]
            assert ready, f"needs form a cycle: {set(jobs) - done}"
            job_id = ready[0]
            done.add(job_id)
            key = prefix + job_id
            if key == self.cancel_before:
                run.cancelled = True
            if key in self.before:
                self.before[key]()
            ancestors = _ancestors(job_id, needs)
            results = [run.result(prefix + a) for a in ancestors]
            needed = {n: {"result": run.result(prefix + n),
                          "outputs": self._outputs(run, prefix + n)} for n in needs[job_id]}
            context = {"github": self.github, "inputs": inputs, "vars": self.vars,
                       "needs": needed,
                       "__status__": {"success": all(r == "success" for r in results)
                                      and not run.cancelled,
                                      "failure": "failure" in results,
                                      "cancelled": run.cancelled}}
            job = jobs[job_id]
            if not condition(job.get("if"), context):
                run.jobs[key] = [Job(key, "cancelled" if run.cancelled else "skipped")]
            elif "uses" in job:
                path = re.sub(r"^(\$|\.)/\.github/workflows/", "", job["uses"])
                called = load(path)
                declared = called["on"]["workflow_call"].get("inputs") or {}
                given = substitute(job.get("with") or {}, context)
                self._workflow(run, called, self._inputs(declared, given), f"{key}/")
                run.jobs[key] = [Job(key, _called_result(run, f"{key}/"))]
            else:
                run.jobs[key] = [self._job(run, key, job_id, job, spec, context, m)
                                 for m in self._matrix(job_id, job, context)]

    def _outputs(self, run: Run, key: str) -> dict[str, str]:
        outputs: dict[str, str] = {}
        for job in run.jobs.get(key, []):  # a matrix job's outputs: the last instance's win
            outputs.update({k: v for k, v in job.outputs.items() if v != ""})
        return outputs

    def _matrix(self, job_id: str, job: dict[str, Any], context: dict[str, Any]
                ) -> list[dict[str, Any]]:
        spec = substitute((job.get("strategy") or {}).get("matrix"), context)
        if not spec:
            return [{}]
        axes = {k: v for k, v in spec.items() if k not in ("include", "exclude")}
        combos = [dict(zip(axes, values, strict=True))
                  for values in itertools.product(*axes.values())]
        combos = [c for c in combos if not any(all(c.get(k) == v for k, v in ex.items())
                                               for ex in spec.get("exclude", []))]
        for extra in spec.get("include", []):
            matching = [c for c in combos if all(c.get(k) == v for k, v in extra.items()
                                                 if k in axes)]
            if not matching:
                combos.append({})
                matching = [combos[-1]]
            for combo in matching:
                combo.update(extra)
        wanted = self.matrix.get(job_id, {})
        return [c for c in combos if all(c.get(k) in v for k, v in wanted.items())]

    def _job(self, run: Run, key: str, job_id: str, job: dict[str, Any], spec: dict[str, Any],
             context: dict[str, Any], matrix: dict[str, Any]) -> Job:
        self.jobs_started += 1
        n = self.jobs_started
        temp = run.root / "runner" / f"{n:02d}-{key.replace('/', '-')}"
        workspace = run.root / "work" / f"{n:02d}-{key.replace('/', '-')}"
        for folder in (temp / "_runner_file_commands", workspace):
            folder.mkdir(parents=True)
        context = {**context, "matrix": matrix, "strategy": {"fail-fast": True},
                   "runner": {"temp": str(temp), "os": "Linux", "arch": "X64"}}
        environment = substitute(job.get("environment"), context)
        if isinstance(environment, dict):
            environment = environment.get("name")
        concurrency = substitute(job.get("concurrency"), context)
        result = Job(key, "success", matrix, environment=environment, runs_on=substitute(
            job.get("runs-on"), context), masks=[self.github["token"]], concurrency=(
            {"group": concurrency, "cancel-in-progress": False}
            if isinstance(concurrency, str) else concurrency))
        context["vars"] = {**self.vars, **self.environments.get(environment or "", {})}
        env = {**substitute(spec.get("env") or {}, context)}
        env.update(substitute(job.get("env") or {}, {**context, "env": env}))
        env.update(self.services.get(job_id, {}))  # a service container's address, as the test's
        shell = ((job.get("defaults") or {}).get("run") or {}).get("shell") or \
            ((spec.get("defaults") or {}).get("run") or {}).get("shell")
        process = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_"))}
        github = self.github
        process.update({
            "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace),
            "GITHUB_EVENT_NAME": github["event_name"], "GITHUB_JOB": job_id,
            "GITHUB_REF": github["ref"], "GITHUB_REF_NAME": github["ref_name"],
            "GITHUB_SHA": github["sha"], "GITHUB_REPOSITORY": github["repository"],
            "GITHUB_RUN_ID": github["run_id"], "GITHUB_BASE_REF": github["base_ref"],
            "GITHUB_HEAD_REF": github["head_ref"], "RUNNER_TEMP": str(temp), "RUNNER_OS": "Linux",
            "PATH": f"{self.root / 'bin'}:{BIN}:{os.environ['PATH']}"})
        scope = _Scope(run, result, env, process, temp, workspace)
        result.steps, steps, failed = self._steps(scope, job.get("steps") or [], context, shell)
        result.result = "failure" if failed else "cancelled" if run.cancelled else "success"
        outputs = substitute(job.get("outputs") or {}, {**context, "env": env, "steps": steps})
        result.outputs = {k: text(v) for k, v in outputs.items()
                          if not any(m and m in text(v) for m in result.masks)}  # as GitHub: a
        return result  # job output holding a secret is not passed on

    def _steps(self, scope: _Scope, specs: list[dict[str, Any]], context: dict[str, Any],
               shell: str | None, uses_env: dict[str, str] | None = None
               ) -> tuple[list[Step], dict[str, dict[str, Any]], bool]:
        """Steps in order, as GitHub runs a job's, or a composite action's inside it (`uses_env`:
        the env its `uses:` step gave it; its steps have a `steps` context and a status of their
        own); the steps as run, their `steps` context, and whether one failed."""
        ran: list[Step] = []
        steps: dict[str, dict[str, Any]] = {}
        failed = False
        for index, step in enumerate(specs):
            status = {"success": not failed and not scope.run.cancelled, "failure": failed,
                      "cancelled": scope.run.cancelled}
            step_context = {**context, "env": {**scope.env, **(uses_env or {})}, "steps": steps,
                            "__status__": status}
            if uses_env is None:  # inside an action, `job` is the job's as the action began
                step_context["job"] = {"status": "failure" if failed else "success"}
            name = text(substitute(step.get("name"), step_context)) or step.get("uses") or \
                step["run"].splitlines()[0]
            runs = condition(step.get("if"), step_context)
            if not runs or step.get("id") in self.skip:  # a skipped install: as if it ran
                outcome = "success" if runs else "skipped"
                if runs and "VIRTUAL_ENV" in (step.get("env") or {}):
                    _install_into(Path(text(substitute(step["env"]["VIRTUAL_ENV"], step_context))),
                                  scope.process["PATH"])
                ran.append(Step(name, step.get("id"), outcome))
                steps[step.get("id") or f"__{index}"] = {"outputs": {}, "outcome": outcome,
                                                         "conclusion": outcome}
                continue
            step_env = {k: text(v) for k, v in substitute(step.get("env") or {},
                                                             step_context).items()}
            files = {name_: scope.temp / "_runner_file_commands" / f"{name_.lower()}_{uuid.uuid4()}"
                     for name_ in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH",
                                   "GITHUB_STEP_SUMMARY", "GITHUB_STATE")}
            for path in files.values():
                path.touch()
            full_env = {**scope.process, **{k: text(v) for k, v in step_context["env"].items()},
                        **step_env, **{k: str(v) for k, v in files.items()}}
            if "action_path" in context["github"]:
                full_env["GITHUB_ACTION_PATH"] = context["github"]["action_path"]
            if "run" in step:
                done = self._commands(scope.job, self._script(step, shell, step_context, scope,
                                                              full_env))
            elif folder := self._composite_folder(step["uses"], scope.workspace):
                done = self._composite(scope, step, step_context, folder, step_env)
            else:
                done = self._commands(scope.job, self._action(scope, step, step_context))
            done.name, done.id = name, step.get("id")
            done.outputs.update(_key_values(files["GITHUB_OUTPUT"].read_text()))
            scope.env.update(_key_values(files["GITHUB_ENV"].read_text()))
            for line in files["GITHUB_PATH"].read_text().splitlines():
                scope.process["PATH"] = f"{line}:{scope.process['PATH']}"
            scope.job.summary += files["GITHUB_STEP_SUMMARY"].read_text()
            ran.append(done)
            failed = failed or (done.outcome == "failure" and not step.get("continue-on-error"))
            steps[step.get("id") or f"__{index}"] = {"outputs": done.outputs,
                                                     "outcome": done.outcome,
                                                     "conclusion": done.outcome}
        return ran, steps, failed

    def _script(self, step: dict[str, Any], shell: str | None, context: dict[str, Any],
                scope: _Scope, env: dict[str, str]) -> Step:
        shell = step.get("shell") or shell
        template = SHELLS.get(shell, shell) or SHELLS[None]
        script = scope.temp / f"{uuid.uuid4()}.{'py' if shell == 'python' else 'sh'}"
        script.write_text(step["run"])
        command = [str(script) if part == "{0}" else part for part in template.split()]
        cwd = scope.workspace / text(substitute(step.get("working-directory", "."), context))
        if not cwd.is_dir():
            return Step("", None, "failure", command=command, raw=(
                f"An error occurred trying to start process '{command[0]}' with working "
                f"directory '{cwd}'. No such file or directory\n"))
        done = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=900, check=False)
        return Step("", None, "success" if done.returncode == 0 else "failure",
                    raw=done.stdout, command=command, code=done.returncode)

    def _commands(self, job: Job, step: Step) -> Step:
        """Workflow commands, line by line: a mask hides the value from that line on."""
        shown = []
        for line in step.raw.splitlines():
            if line.startswith("::add-mask::"):
                job.masks.append(line.removeprefix("::add-mask::"))
                continue
            for mask in sorted(filter(None, job.masks), key=len, reverse=True):
                line = line.replace(mask, "***")
            if re.match(r"::(error|warning|notice)\b", line):
                job.annotations.append(line)
            shown.append(line)
        step.shown = "\n".join(shown)
        return step

    @staticmethod
    def _composite_folder(uses: str, workspace: Path) -> Path | None:
        """Where a composite action's action.yml is: a local one (`./path`) in the workspace;
        dbci's own, at any ref, in this repository (as GitHub would have downloaded it)."""
        if uses.startswith("./"):
            return workspace / uses
        return REPO if uses.split("@")[0] == ACTION else None

    def _composite(self, scope: _Scope, step: dict[str, Any], context: dict[str, Any],
                   folder: Path, step_env: dict[str, str]) -> Step:
        """A composite action as GitHub runs one: `with:` over its inputs' defaults (an input
        it does not declare is a warning), its steps with the shells they declare, a status and
        `steps` context of their own, `github.action_path`; its outputs, evaluated even when a
        step failed; the step fails when one of them does."""
        given = {k: text(v) for k, v in substitute(step.get("with") or {}, context).items()}
        done = Step("", None, "failure", uses=step["uses"].split("@")[0], with_=given)
        path = next((p for p in (folder / "action.yml", folder / "action.yaml") if p.is_file()),
                    None)
        if path is None:
            done.raw = done.shown = (
                f"Can't find 'action.yml' or 'action.yaml' under '{folder}'. Did you forget to "
                "run actions/checkout before running your local action?\n")
            return done
        spec = yaml.safe_load(path.read_text())
        specs = spec["runs"]["steps"]
        if any("run" in s and "shell" not in s for s in specs):
            done.raw = done.shown = f"{path}: Required property is missing: shell\n"
            return done
        declared = spec.get("inputs") or {}
        unexpected = [k for k in given if k.casefold() not in {d.casefold() for d in declared}]
        quoted = ["', '".join(names) for names in (unexpected, declared)]
        warning = self._commands(scope.job, Step("", None, "success", raw=(
            f"::warning::Unexpected input(s) '{quoted[0]}', valid inputs are ['{quoted[1]}']\n"
            if unexpected else "")))
        inputs = {k: _get(given, k) if _get(given, k) is not None else
                  text(substitute(v.get("default", ""), context)) for k, v in declared.items()}
        inner = {**context, "github": {**context["github"], "action_path": str(folder)},
                 "inputs": inputs}
        done.steps, steps, failed = self._steps(scope, specs, inner, None, step_env)
        outputs = substitute({k: v.get("value") for k, v in (spec.get("outputs") or {}).items()},
                             {**inner, "steps": steps})
        done.outputs = {k: text(v) for k, v in outputs.items()}
        done.outcome = "failure" if failed else "success"
        done.raw = warning.raw + "".join(s.raw for s in done.steps)
        done.shown = "\n".join(s.shown for s in [warning, *done.steps] if s.shown)
        return done

    def _action(self, scope: _Scope, step: dict[str, Any], context: dict[str, Any]) -> Step:
        """The stand-in of an action that is not composite."""
        run, workspace = scope.run, scope.workspace
        uses = step["uses"].split("@")[0]
        given = {k: text(v) for k, v in substitute(step.get("with") or {}, context).items()}
        done = Step("", None, "success", uses=uses, with_=given)
        artifacts = run.root / "artifacts"
        if uses == "actions/checkout":
            shutil.copytree(self.checkout, workspace, symlinks=True, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", ".*_cache", ".venv"))
            if (self.checkout / ".venv").is_dir():  # what setup-python and `make` would make
                (workspace / ".venv").symlink_to(self.checkout / ".venv")
            ref = given.get("ref", "").removeprefix("refs/heads/")
            if ref and not ref.startswith("refs/"):
                subprocess.run(["git", "checkout", "-q", ref], cwd=workspace, check=True)
        elif uses == "actions/setup-python":
            done.outputs["python-path"] = sys.executable
        elif uses == "aws-actions/configure-aws-credentials":
            pass
        elif uses == "actions/upload-artifact":
            name = given.get("name") or "artifact"
            paths = [workspace / p.strip() for p in given["path"].splitlines() if p.strip()]
            found = [f for p in paths for f in ([p] if p.is_file() else sorted(
                x for x in p.rglob("*") if x.is_file()) if p.is_dir() else [])]
            if (artifacts / name).exists() or (not found and given.get(
                    "if-no-files-found") == "error"):
                done.outcome, done.raw = "failure", f"upload-artifact: cannot upload {name}\n"
            elif found:
                base = Path(os.path.commonpath([p if p.is_dir() else p.parent for p in paths
                                                if p.exists()]))
                for file in found:
                    (artifacts / name / file.relative_to(base)).parent.mkdir(parents=True,
                                                                             exist_ok=True)
                    shutil.copy2(file, artifacts / name / file.relative_to(base))
        elif uses == "actions/download-artifact":
            target = workspace / given.get("path", ".")
            names = sorted(p.name for p in artifacts.glob("*")) if artifacts.exists() else []
            if given.get("name"):
                if given["name"] not in names:
                    return Step("", None, "failure", raw=f"Artifact '{given['name']}' not found\n")
                shutil.copytree(artifacts / given["name"], target, dirs_exist_ok=True)
            else:
                merge = given.get("merge-multiple") == "true"
                for name in fnmatch.filter(names, given.get("pattern") or "*"):
                    shutil.copytree(artifacts / name, target if merge else target / name,
                                    dirs_exist_ok=True)
        elif uses == "marocchino/sticky-pull-request-comment":
            (self.root / "comments").mkdir(exist_ok=True)
            body = Path(given["path"]).read_text() if given.get("path") else given["message"]
            (self.root / "comments" / f"{given.get('header', 'default')}.md").write_text(body)
        else:
            raise KeyError(f"no stand-in for the action {uses}")
        return done


def _install_into(venv: Path, path: str) -> None:
    """What pip would install into a virtual environment, from what the test has: its packages
    (a .pth naming the test's site-packages, after the venv's own) and, run by the venv's Python,
    the `dbci` the job's PATH finds (a test's fake, else the test's own)."""
    (site,) = venv.glob("lib/python*/site-packages")
    (site / "test-environment.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_path('purelib')!r})\n")
    found = shutil.which("dbci", path=path)
    assert found, "no dbci on the job's PATH"
    script = venv / "bin" / "dbci"
    script.write_text(f"#!{venv / 'bin' / 'python'}\n" + Path(found).read_text().split("\n", 1)[1])
    script.chmod(0o755)


def _listed(value: Any) -> list[str]:
    return [] if value is None else [value] if isinstance(value, str) else list(value)


def _ancestors(job_id: str, needs: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    todo = list(needs[job_id])
    while todo:
        parent = todo.pop()
        if parent not in found:
            found.add(parent)
            todo.extend(needs[parent])
    return found


def _called_result(run: Run, prefix: str) -> str:
    results = {run.result(k) for k in run.jobs if k.startswith(prefix)}
    return next((r for r in ("failure", "cancelled") if r in results), "success")


def _key_values(content: str) -> dict[str, str]:
    """`name=value` lines and `name<<DELIMITER` blocks, as GitHub reads its env files."""
    found: dict[str, str] = {}
    lines = iter(content.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = list(itertools.takewhile(lambda x, d=delimiter: x != d, lines))
            found[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            found[name] = value
    return found


@dataclass
class Concurrency:
    """GitHub's concurrency groups: one running and at most one pending job per group; a new
    pending job cancels the one pending before it (cancel-in-progress: the running one too)."""

    running: dict[str, str] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)

    def arrive(self, job: str, group: str, cancel_in_progress: bool = False) -> None:
        if group not in self.running:
            self.running[group] = job
            return
        if group in self.pending:
            self.cancelled.append(self.pending.pop(group))
        if cancel_in_progress:
            self.cancelled.append(self.running.pop(group))
            self.running[group] = job
        else:
            self.pending[group] = job

    def finish(self, group: str) -> None:
        self.running.pop(group)
        if group in self.pending:
            self.running[group] = self.pending.pop(group)
