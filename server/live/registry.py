"""The live sessions of this server process, by session id: found by a join, opened on the first one."""

from __future__ import annotations

from pathlib import Path

from procedures import ProcedureLibrary
from signaling import Join, ProtocolError
from signaling.messages import Role

from ..blocking import run_blocking
from ..config import Settings
from ..recordings.eventlog import EventLog
from ..recordings.files import recording_files
from ..recordings.jobs import FileJobs
from ..records.cases import case_procedure
from ..records.database import Database
from ..records.links import check_link
from ..records.sessions import find_session
from .session import LiveSession
from .workers.pool import MediaWorkers


class LiveRegistry:
    """The live sessions of this server process, by session id."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        procedures: ProcedureLibrary,
        workers: MediaWorkers,
        jobs: FileJobs | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.procedures = procedures
        self.workers = workers
        self.jobs = jobs or FileJobs()
        self.sessions: dict[str, LiveSession] = {}

    def presence(self, session_id: str) -> dict[str, str]:
        """What each participant is doing right now: joined, reconnecting or left."""
        live = self.sessions.get(session_id)
        if live is None:
            return {"customer": "left", "expert": "left"}
        return {str(role): str(status) for role, status in live.machine.presence.items()}

    async def open_for(self, message: Join, user_session_id: str | None) -> LiveSession:
        """The live session a ``join`` names: by link token (customer) or by id (expert)."""
        if message.role == "customer":
            if not message.token:
                raise ProtocolError("bad_token", "a customer joins with the token from their link")
            check = await run_blocking(check_link, self.db, message.token)
            if check.problem == "unknown":
                raise ProtocolError("bad_token", "this link is not valid; ask the expert for a new link")
            if check.problem == "expired":
                raise ProtocolError("token_expired", "this link has expired; ask the expert for a new link")
            if check.problem == "ended":
                raise ProtocolError("session_ended", "this session has ended; ask the expert for a new link")
            if message.session_id is not None and message.session_id != check.session_id:
                raise ProtocolError("token_mismatch", "this link belongs to another session")
            session_id = check.session_id
        else:
            session_id = user_session_id
        assert session_id is not None
        live = self.sessions.get(session_id)
        if live is not None:
            return live
        row = await run_blocking(find_session, self.db, session_id)
        if row is None:
            raise ProtocolError("not_found", f"there is no session {session_id!r}")
        if row.state == "ended":
            raise ProtocolError("session_ended", "this session has ended; start a new session on the case")
        live = self.sessions.get(session_id)  # another join may have opened it meanwhile
        if live is None:
            live = LiveSession(self, row)
            self.sessions[session_id] = live
            procedure_id = await run_blocking(case_procedure, self.db, row.case_id)
            if procedure_id is not None and procedure_id in self.procedures:
                await live.ar.set_procedure(procedure_id, by="server")
        return live

    async def report_problem(self, session_id: str, role: Role, problem: str, browser: str) -> None:
        """A page that cannot join the call (no WebRTC) says why: the live session tells the expert;
        a session nobody is in yet keeps it in its log for the case."""
        live = self.sessions.get(session_id)
        if live is not None:
            await live.client_problem(role, problem, browser)
            return
        path = recording_files(self.settings.recordings_dir, session_id).events
        await run_blocking(_log_problem, path, role, problem, browser)

    def forget(self, live: LiveSession) -> None:
        if self.sessions.get(live.session_id) is live:
            del self.sessions[live.session_id]

    async def end(self, session_id: str, reason: str) -> bool:
        """End a live session (tells both sides, finalises the recording); False if it was not live."""
        live = self.sessions.get(session_id)
        if live is None:
            return False
        await live.end(reason)
        return True

    async def close_all(self, reason: str) -> None:
        """On shutdown: end every live session, so every recording is finalised, then stop the media
        workers."""
        for live in list(self.sessions.values()):
            await live.end(reason)
        await self.workers.close()


def _log_problem(path: Path, role: str, problem: str, browser: str) -> None:
    log = EventLog(path, clock_ms=lambda: None)
    try:
        log.client_problem(role, problem, browser)
    finally:
        log.close()
