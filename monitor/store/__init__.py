"""Storage: the SQLite store (`sqlite`: schema, migrations, a thread for blocking work) and
the rows Siaga keeps in it (`records`). Import from the submodules."""
