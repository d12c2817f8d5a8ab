"""The records: cases, sessions, staff accounts and customer links, in the database.

Plain functions over :class:`~server.records.database.Database` that raise ``server.errors``
domain errors; no HTTP, no sockets. ``sessions.py`` owns every change of a session row.
"""
