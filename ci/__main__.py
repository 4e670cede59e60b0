"""``python -m ci`` runs dbci."""

from ci.launch import entry

entry()
