"""Every rule dbci can emit, defined once, one module per family; ``RULES`` lists them all.

squawk's own rule ids pass through from squawk and are documented by squawk.
"""

from __future__ import annotations

from ci.rules import (
    deployed,
    downgrade,
    drift,
    graph,
    naming,
    roundtrip,
    seed,
    stage,
    transaction,
)
from ci.rules.base import REGISTRY, Rule, allowed, irreversible_reason

FAMILIES = (naming, graph, downgrade, transaction, deployed, roundtrip, drift, stage, seed)
RULES: list[Rule] = list(REGISTRY.values())

__all__ = ["FAMILIES", "RULES", "Rule", "allowed", "irreversible_reason"]
