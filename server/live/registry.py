"""The live sessions of this server process, by session id: found by a join, opened on the first one.

With several processes (``server/cluster/``), a session is opened only by the process that holds its
lease; the registry gives the cluster what it asks (the sessions held here and who is in them, ending
one whose lease was lost, recovering one whose owner died).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from pathlib import Path

from procedures import ProcedureLibrary
from signaling import Join, ProtocolError
from signaling.messages import Role

from ..blocking import run_blocking
from ..cluster import Cluster, ClusterHooks, LocalCluster, Presence
from ..config import Settings
from ..recordings.eventlog import EventLog
from ..recordings.files import recording_files
from ..recordings.jobs import FileJobs
from ..recordings.recovery import recover_session
from ..recordings.voices import mix_voices_job
from ..records.cases import case_procedure
from ..records.database import Database
from ..records.links import check_link
from ..records.sessions import find_session, live_session_ids
from .session import LiveSession
from .workers.pool import MediaWorkers

logger = logging.getLogger(__name__)

ABSENT: dict[str, str] = {"customer": "left", "expert": "left"}


class LiveRegistry:
    """The live sessions of this server process, by session id."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        procedures: ProcedureLibrary,
        workers: MediaWorkers,
        jobs: FileJobs | None = None,
        cluster: Cluster | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.procedures = procedures
        self.workers = workers
        self.jobs = jobs or FileJobs()
        self.cluster: Cluster = cluster or LocalCluster()
        self.sessions: dict[str, LiveSession] = {}
        self._releases: set[asyncio.Task[None]] = set()

    def presence(self, session_id: str) -> dict[str, str]:
        """What each participant is doing right now: joined, reconnecting or left (sessions held here)."""
        live = self.sessions.get(session_id)
        if live is None:
            return dict(ABSENT)
        return {str(role): str(status) for role, status in live.machine.presence.items()}

    async def presence_of(self, session_ids: list[str]) -> dict[str, dict[str, str]]:
        """Presence of each session, wherever it is held (another process's as it last published it)."""
        found = {s: self.presence(s) for s in session_ids if s in self.sessions}
        elsewhere = await self.cluster.presence([s for s in session_ids if s not in found])
        return {s: found.get(s) or elsewhere.get(s) or dict(ABSENT) for s in session_ids}

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
            if not await self.cluster.adopt(session_id):
                raise self._not_here()
            live = self.sessions.get(session_id)
        if live is None:
            try:
                live = LiveSession(self, row)
            except OSError as exc:  # its folder (event log) cannot be made or written
                await self.cluster.release(session_id)
                raise storage_unavailable(session_id, self.settings.recordings_dir, exc) from None
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

    def _not_here(self) -> ProtocolError:
        if self.cluster.draining:
            return ProtocolError(
                "server_draining",
                "this server is restarting and takes no new sessions; try again in a minute",
            )
        return ProtocolError("session_moved", "this session is held by another server; join again")

    def forget(self, live: LiveSession) -> None:
        """The session ended (its row says so): forget it, and give up its lease."""
        if self.sessions.get(live.session_id) is live:
            del self.sessions[live.session_id]
            task = asyncio.ensure_future(self.cluster.release(live.session_id))
            self._releases.add(task)
            task.add_done_callback(self._released)

    def _released(self, task: asyncio.Task[None]) -> None:
        self._releases.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("could not release a session's lease (it expires): %s", task.exception())

    # --- what the cluster asks ------------------------------------------------------------------

    def cluster_hooks(self) -> ClusterHooks:
        return ClusterHooks(
            owned=self._owned,
            lost=self._lost,
            live_session_ids=functools.partial(run_blocking, live_session_ids, self.db),
            recover=self.recover_cut_off,
        )

    async def _lost(self, session_id: str) -> None:
        await self.end(session_id, "this server stopped holding the session (it paused too long)")

    def _owned(self) -> dict[str, Presence]:
        return {session_id: self.presence(session_id) for session_id in self.sessions}

    async def recover_cut_off(self, session_id: str) -> bool:
        """End a session whose process stopped (it is held by none): recording ``partial``, both
        voices mixed in the background."""
        if not await run_blocking(recover_session, self.db, self.settings.recordings_dir, session_id):
            return False
        logger.warning("session %s was cut off by a stopped server: ended, recording partial", session_id)
        media = recording_files(self.settings.recordings_dir, session_id).media
        if media.exists():
            self.jobs.start(media, mix_voices_job(media))
        return True

    async def wait_drained(self, timeout_s: float) -> None:
        """Take no new sessions; let the live ones go on until they end or ``timeout_s`` passes."""
        await self.cluster.set_draining()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while self.sessions and loop.time() < deadline:
            await asyncio.sleep(min(0.5, max(0.0, deadline - loop.time())))
        # Ended here, while the pages' sockets are still open, so they are told (the server's shutdown
        # closes the sockets before its lifespan ends what is left).
        for live in list(self.sessions.values()):
            await live.end("the server is restarting; start a new session")

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
        await asyncio.gather(*self._releases, return_exceptions=True)
        await self.workers.close()


def storage_unavailable(session_id: str, recordings_dir: Path, exc: OSError) -> ProtocolError:
    """A session whose recording folder cannot be written cannot start (its event log is the case's
    record of the call): the admin reads why in the log and in ``/readyz``, the page is told plainly
    and does not retry; the other sessions go on."""
    logger.error(
        "session %s cannot start: its recordings folder in %s cannot be written (%s)",
        session_id,
        recordings_dir,
        exc.strerror or exc,
    )
    return ProtocolError(
        "storage_unavailable",
        "the server cannot store this session right now (its recordings folder cannot be written); "
        "tell the server's administrator, then open the link again",
    )


def _log_problem(path: Path, role: str, problem: str, browser: str) -> None:
    log = EventLog(path, clock_ms=lambda: None)
    try:
        log.client_problem(role, problem, browser)
    finally:
        log.close()
