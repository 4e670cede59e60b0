"""Everything that touches a deployed stage: what a command points at (targets and their
secrets), the SSM tunnel, plans, migrate, status and dumps."""
