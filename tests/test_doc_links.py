"""The README and docs/ link to files and headings that exist, so pages can move without leaving
dead links behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import REPO

PAGES = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
#: A markdown link's target: ``[text](target)``.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def unfenced(text: str) -> str:
    """The text outside fenced code blocks."""
    return re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)


def prose(text: str) -> str:
    """The text outside fenced code blocks and code spans, where links are links."""
    return re.sub(r"(`+).+?\1", "", unfenced(text))


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lowercased, punctuation dropped, spaces as
    hyphens, a repeated heading numbered."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6} (.+)$", unfenced(page.read_text()), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        found.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_relative_link_resolves(page: Path) -> None:
    dead = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"^[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        linked = (page.parent / path).resolve() if path else page
        if not linked.exists():
            dead.append(f"{target}: no such file")
        elif anchor and linked.suffix == ".md" and anchor not in anchors(linked):
            dead.append(f"{target}: no such heading in {linked.relative_to(REPO)}")
    assert not dead, f"{page.relative_to(REPO)}: {dead}"


def test_the_readme_links_every_page_of_docs() -> None:
    linked = {(REPO / target.partition("#")[0]).resolve()
              for target in LINK.findall(prose((REPO / "README.md").read_text()))}
    assert sorted(p.name for p in PAGES if p.parent.name == "docs" and p not in linked) == []
