"""A fake `gh` for the emulated runner: issues and pull requests in a JSON file, every call
recorded (its arguments, and whether GH_TOKEN was set: gh in Actions refuses to work without)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

VALUED = {"--state", "--search", "--json", "--title", "--body", "--body-file", "--base", "--head",
          "--repo", "-R", "--comment", "--label", "-t", "-b", "-F", "-c"}


def parse(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """Positional words and `--option value` pairs."""
    words, options = [], {}
    it = iter(args)
    for arg in it:
        if arg.startswith("-") and "=" in arg:
            key, value = arg.split("=", 1)
            options[key] = value
        elif arg in VALUED:
            options[arg] = next(it)
        elif arg.startswith("-"):
            raise SystemExit(f"fake gh: unknown flag {arg}")
        else:
            words.append(arg)
    return words, options


def body(options: dict[str, str]) -> str | None:
    if "--body-file" in options:
        return Path(options["--body-file"]).read_text()
    return options.get("--body", options.get("--comment"))


def main(args: list[str], folder: str) -> int:
    """Run one gh command against the state in ``folder``; its exit code."""
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    with (root / "calls.jsonl").open("a") as log:
        log.write(json.dumps({"args": args, "token": bool(os.environ.get("GH_TOKEN"))}) + "\n")
    if not os.environ.get("GH_TOKEN"):
        print("gh: To use GitHub CLI in a GitHub Actions workflow, set the GH_TOKEN environment "
              "variable.", file=sys.stderr)
        return 4
    path = root / "state.json"
    state: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {
        "issues": [], "pulls": []}
    words, options = parse(args)
    noun, verb, rest = words[0], words[1], words[2:]
    url = "https://github.com/example/dbci"
    if (noun, verb) == ("issue", "list"):
        state_wanted = options.get("--state", "open")
        found = [i for i in state["issues"] if state_wanted in ("all", i["state"])]
        fields = options.get("--json", "number,title").split(",")
        print(json.dumps([{f: i.get(f) for f in fields} for i in found]))
    elif (noun, verb) == ("issue", "create"):
        number = len(state["issues"]) + len(state["pulls"]) + 1
        state["issues"].append({"number": number, "title": options["--title"],
                                "body": body(options), "state": "open", "comments": []})
        print(f"{url}/issues/{number}")
    elif noun == "issue" and verb in ("edit", "comment", "close"):
        (issue,) = [i for i in state["issues"] if str(i["number"]) == rest[0]]
        if verb == "edit":
            issue["body"] = body(options) if body(options) is not None else issue["body"]
            issue["title"] = options.get("--title", issue["title"])
        elif body(options) is not None:
            issue["comments"].append(body(options))
        if verb == "close":
            issue["state"] = "closed"
    elif (noun, verb) == ("pr", "create"):
        number = len(state["issues"]) + len(state["pulls"]) + 1
        state["pulls"].append({"number": number, "title": options.get("--title"),
                               "body": body(options), "base": options.get("--base"),
                               "head": options["--head"], "state": "open"})
        print(f"{url}/pull/{number}")
    else:
        print(f"fake gh: {noun} {verb} is not faked", file=sys.stderr)
        return 1
    path.write_text(json.dumps(state, indent=2))
    return 0
