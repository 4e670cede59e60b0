"""``python -m ci.rules [FILE]``: docs/rules.md from the registry, written to FILE (else
printed). ``make docs`` runs it."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ci.atomic_files import replace_files
from ci.rules.docs import markdown


def main(argv: Sequence[str] | None = None) -> int:
    """Write (or print) the generated rules page."""
    parser = argparse.ArgumentParser(prog="python -m ci.rules", description=__doc__)
    parser.add_argument("file", nargs="?", type=Path, help="where to write the page")
    args = parser.parse_args(argv)
    if args.file is not None:
        replace_files({args.file: markdown()})
    else:
        sys.stdout.write(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main())
