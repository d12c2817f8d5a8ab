"""The database's schema history as Alembic revisions (``versions/``), run on open by ``records/schema.py``.

``baseline.py`` is the schema of RepairSight 0.1, the last version without migrations, kept frozen
here: the first revision makes it, and ``schema.py`` brings a database made before migrations up
to it before stamping. ``env.py`` and ``alembic.ini`` let a developer write the next revision with
the ``alembic`` command (``docs/database.md``).
"""
