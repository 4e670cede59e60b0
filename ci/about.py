"""Where dbci lives: one place for the repository that the package's URLs, the rules' doc links
in reports read outside this repository, and the action that ``dbci init`` writes all name."""

from __future__ import annotations

#: The repository dbci is published from (set here once, at publication).
REPOSITORY = "https://github.com/dbci-dev/dbci"
#: The action's ``owner/name`` for ``uses:``.
ACTION = REPOSITORY.removeprefix("https://github.com/")
#: Documentation, as read on the repository's default branch.
DOCS = f"{REPOSITORY}/blob/main/"
