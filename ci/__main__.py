"""``python -m ci`` runs dbci."""

from ci.cli import entry

entry()
