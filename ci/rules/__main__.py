"""``python -m ci.rules [FILE]``: docs/rules.md from the registry, written to FILE (else
printed). ``make docs`` runs it."""

from __future__ import annotations

import sys
from pathlib import Path

from ci.atomic_files import replace_files
from ci.rules.docs import markdown


def main(argv: list[str]) -> int:
    """Write (or print) the generated rules page."""
    if argv:
        replace_files({Path(argv[0]): markdown()})
    else:
        sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
