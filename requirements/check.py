"""`make lock-check`: requirements/deploy.txt still locks what pyproject.toml asks for.

Offline and cheap: every dependency of ``[project]`` and every ``[build-system]`` requirement is
pinned (``name==version``) in the lock, with at least one sha256 hash, and the pinned version
satisfies the range pyproject gives. Exit 1 with one line per problem; `make lock` fixes them.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")


def pins(lock: str) -> dict[str, tuple[Version, int]]:
    """Each locked package: its version and how many hashes the lock gives it."""
    found: dict[str, tuple[Version, int]] = {}
    name = None
    for line in lock.splitlines():
        match = PIN.match(line)
        if match:
            name = canonicalize_name(match.group(1))
            found[name] = (Version(match.group(2)), 0)
        if name is not None and "--hash=sha256:" in line:
            version, hashes = found[name]
            found[name] = (version, hashes + line.count("--hash=sha256:"))
        if not line.strip() or line.startswith("#"):
            name = None
    return found


def problems(pyproject: Path, lock: Path) -> list[str]:
    """What the lock does not hold that pyproject asks for; empty when it is up to date."""
    project = tomllib.loads(pyproject.read_text())
    wanted = [*project["project"]["dependencies"], *project["build-system"]["requires"]]
    locked = pins(lock.read_text())
    out = []
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name not in locked:
            out.append(f"{requirement.name}: not in {lock.name}")
            continue
        version, hashes = locked[name]
        if not requirement.specifier.contains(version, prereleases=True):
            out.append(f"{requirement.name}: {lock.name} pins {version}, pyproject asks "
                       f"{requirement.specifier}")
        if not hashes:
            out.append(f"{requirement.name}: no --hash in {lock.name}")
    return out


def main() -> int:
    """Print each problem; exit 1 when there is one."""
    found = problems(ROOT / "pyproject.toml", ROOT / "requirements" / "deploy.txt")
    for line in found:
        print(f"lock-check: {line}; run `make lock`", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
