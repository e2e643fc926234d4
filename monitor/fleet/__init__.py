"""Several Siaga instances on one PostgreSQL store (see membership)."""
