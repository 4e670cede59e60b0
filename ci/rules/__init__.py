"""Every rule dbci can report, defined once, one module per family (id, summary, doc, fix);
``RULES`` lists them all, family by family. A rule fires by its constant, named after its id,
where its check detects it: ``grep -rn DOWNGRADE_LEAVES_OBJECTS ci`` finds the definition and
every place it fires. ``docs/rules.md`` is generated from here (``python -m ci.rules``).

squawk's own rule ids pass through from squawk and are documented by squawk.
"""

from __future__ import annotations

from ci.rules import (
    compat,
    deployed,
    downgrade,
    drift,
    graph,
    impact,
    init,
    naming,
    roundtrip,
    seed,
    stage,
    transaction,
)
from ci.rules.base import REGISTRY, Rule, allowed, squawk_link

FAMILIES = (naming, graph, downgrade, transaction, deployed, roundtrip, drift, stage, seed,
            impact, compat, init)
RULES: list[Rule] = [each for family in FAMILIES for each in vars(family).values()
                     if isinstance(each, Rule)]

__all__ = ["FAMILIES", "REGISTRY", "RULES", "Rule", "allowed", "squawk_link"]
