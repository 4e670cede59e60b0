"""The round trip: every revision's downgrade restores exactly the schema before its upgrade.

`ranges` picks the revisions, `engine` checks them on one connection (its state machine is
written at its top), `results` holds what it found and the words it says it in, `workers`
splits a long range between this process and a forked one (`fork`).
"""
