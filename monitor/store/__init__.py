"""Storage: one store thread over SQLite or PostgreSQL (`engine`), each engine's schema and
migrations (`sqlite`, `postgresql`), the rows Siaga keeps (`records`) and copying a store
between engines (`copy`). Import from the submodules."""
