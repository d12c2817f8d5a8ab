"""Recordings: a session's files (the WebM, the event log, snapshots, exports) and everything read
from them: the timeline, replay of the AR layer, exports, search, analytics, retention and recovery.

``eventlog.py`` owns the log's format; ``timeline.py`` is the one walk over it.
"""
