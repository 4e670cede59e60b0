"""Where dbci lives: one place for the repository that the package's URLs, the rules' doc links
in reports read outside this repository, and the action that ``dbci init`` writes all name."""

from __future__ import annotations

#: The repository dbci is published from (set here once, at publication).
REPOSITORY = "https://github.com/dbci-dev/dbci"
#: The action's ``owner/name`` for ``uses:``.
ACTION = REPOSITORY.removeprefix("https://github.com/")
#: Documentation, as read on the repository's default branch.
DOCS = f"{REPOSITORY}/blob/main/"


def absolute(link: str) -> str:
    """A doc link that works where it is read (another repository's pull request, a terminal):
    one relative to dbci's repository (``docs/rules.md#...``) made whole; others as they are."""
    return link if "://" in link else DOCS + link
