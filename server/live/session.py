"""A session in progress: the shell around ``signaling.SessionMachine`` that does the I/O.

A :class:`LiveSession` exists while anyone is connected to a session. It carries out what the
state machine decides (send, close), owns the session's media (:class:`SessionMedia`), its
recording and event log, and keeps the session's database row up to date (through
``server/records/sessions.py``). The :class:`~server.live.registry.LiveRegistry` finds or opens them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Protocol, cast

from signaling import (
    Annotate,
    AnnotationAdded,
    Answer,
    BurnInState,
    ChatMessage,
    ChatSend,
    ClientMessage,
    ClientProblem,
    EndSession,
    IceCandidate,
    IceServer,
    Join,
    Joined,
    LinkReport,
    Offer,
    ParticipantInfo,
    Ping,
    PointerMove,
    Pong,
    ProtocolError,
    RecordingStatus,
    RemoveAnnotation,
    ServerMessage,
    SetBurnIn,
    SetLanguage,
    SetProcedure,
    StepCommand,
    TakeSnapshot,
)
from signaling.messages import RecordingState
from signaling.rate import CHAT_BURST_LINES, TokenBucket, chat_bucket
from signaling.sdp import check_candidate, check_offer
from signaling.state import Action, Close, Role, Send, SessionMachine

from ..blocking import run_blocking
from ..clock import utc_timestamp, utcnow
from ..recordings.eventlog import EventLog
from ..recordings.files import recording_files
from ..recordings.recorder import Recorder
from ..recordings.voices import mix_voices_job
from ..records.cases import set_case_procedure
from ..records.database import Database
from ..records.models import RepairSession
from ..records.sessions import RecordingSummary, load_session, mark_ended, mark_live
from ..records.tokens import new_id
from .ar import ARSession
from .browsers import describe_browser
from .link import CustomerLink
from .media.hub import SessionMedia
from .seat import Admission, CustomerSeat
from .turn import ice_servers_for

if TYPE_CHECKING:
    from .registry import LiveRegistry

logger = logging.getLogger(__name__)

CLEAN_CLOSE_CODES = (1000, 1001)  # the page was closed or navigated away: left, not reconnecting
# Distinct problems a page may report in one session (each once); more is a page misbehaving.
MAX_PROBLEMS_HEARD = 20


class Connection(Protocol):
    """One participant's socket, as the WebSocket endpoint provides it."""

    id: str

    async def send(self, message: ServerMessage) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...


class LiveSession:
    def __init__(self, registry: LiveRegistry, row: RepairSession) -> None:
        self.registry = registry
        self.session_id = row.id
        self.machine = SessionMachine(row.id)
        settings = registry.settings
        self.media = SessionMedia(
            row.id,
            ice_servers_for(settings.ice_servers, settings.turn_secret, f"{row.id}:server", time.time()),
            on_connection_state=self._on_media_state,
            reencode=registry.settings.media_relay == "reencode",
            on_datachannel=lambda role, channel: self.ar.add_channel(role, channel),
            on_video_gap=self._video_gap,
        )
        self.files = recording_files(registry.settings.recordings_dir, row.id)
        self.recorder: Recorder | None = None
        self.consent = row.consent
        self.seat = CustomerSeat(row.token_expires_at)
        self.events = EventLog(self.files.events, clock_ms=self._recording_ms)
        self.ar = ARSession(
            row.id,
            self.media,
            self.events,
            self.files,
            registry.procedures,
            self.broadcast,
            registry.workers,
            self._recording_ms_of_frame,
            vision_width_px=registry.settings.vision_width_px,
            ar_delay_ms=registry.settings.ar_delay_ms,
        )
        self.case_id = row.case_id
        self.connections: dict[str, Connection] = {}
        self._grace: dict[str, asyncio.TimerHandle] = {}
        self._idle: asyncio.TimerHandle | None = None
        self._timers: list[asyncio.TimerHandle] = []
        # Each participant's browser, in words; what last kept the customer out, if anything.
        self.browsers: dict[str, str] = {}
        self.customer_problem: str | None = None
        # What each page reported, kept once: a page that repeats itself (a loop, a script) fills
        # neither the log nor the expert's screen.
        self.problems_heard: dict[str, set[str]] = {}
        # Each role's chat allowance; kept across reconnects, so a new socket does not refill it.
        self._chat_allowance: dict[Role, TokenBucket] = {}
        # The customer's link as its page last reported it (the expert's "weak connection" sign).
        self.customer_link = CustomerLink()
        self._lock = asyncio.Lock()

    @property
    def customer_language(self) -> str | None:
        """The language the customer's page is shown in, as its last join or ``set_language`` said
        (kept by the AR session, whose procedure texts and labels follow it)."""
        return self.ar.customer_language

    @property
    def db(self) -> Database:
        return self.registry.db

    def _recording_ms(self) -> int | None:
        return self.recorder.elapsed_ms() if self.recorder is not None else None

    def _recording_ms_of_frame(self, rtp_timestamp: int) -> int | None:
        return self.recorder.video_ms_of(rtp_timestamp) if self.recorder is not None else None

    # --- participants --------------------------------------------------------------------

    async def join(self, conn: Connection, message: Join, username: str | None) -> None:
        async with self._lock:
            browser = describe_browser(message.client.user_agent) if message.client else None
            admission: Admission | None = None
            if message.role == "customer":
                admission = await self._admit_customer(message, browser)
            resumed = admission is not None and admission.resumed
            older = self.machine.connections[message.role]
            actions = self.machine.join(
                message.role,
                conn.id,
                resumed=resumed,
                page_id=message.page_id,
                # Its socket is still here: the server has not seen it close (a reload closes it first).
                older_open=older is not None and older in self.connections,
            )
            self.connections[conn.id] = conn
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            if browser is not None:
                self.browsers[message.role] = browser
            if message.role == "customer" and message.client is not None:
                self.ar.customer_language = message.client.language
            if message.role == "customer":
                await self._customer_decides(message.consent)
                self._watch_media_arrival(conn.id)
            else:
                self.registry.workers.warm_up()  # the expert may pick a procedure any moment
            self.events.join(message.role, username, browser)
            settings = self.registry.settings
            await conn.send(
                Joined(
                    session_id=self.session_id,
                    role=message.role,
                    ice_servers=[
                        IceServer(urls=[s.url], username=s.username, credential=s.credential)
                        for s in ice_servers_for(
                            settings.ice_servers,
                            settings.turn_secret,
                            f"{self.session_id}:{message.role}",
                            time.time(),
                        )
                    ],
                    recording=self.recording_status() == "recording",
                    peers=self.machine.peers_seen_by(message.role),
                    resume=admission.resume if admission is not None else None,
                )
            )
            status = RecordingStatus(status=self.recording_status())
            if message.role == "customer":
                await self._carry_out(self.machine.broadcast(status))  # both badges say the truth
            else:
                await conn.send(status)
            await conn.send(self.ar.procedure_state(message.role))
            for kept, _anchored in self.ar.marks.values():
                await conn.send(AnnotationAdded(annotation=kept))
            await self._carry_out(actions)
            if "customer" in self.browsers:
                await self.broadcast(self._customer_info(), "expert")
            link = self.customer_link.recent(time.monotonic())
            if message.role == "expert" and link is not None:
                await conn.send(link)

    async def _admit_customer(self, message: Join, browser: str | None) -> Admission:
        """The seat lets the customer in (``server/live/seat.py``) or says why not. Another browser
        kept out of a seat in use is told to the expert and logged (not every time: a refused page
        that is opened again and again floods neither), then refused."""
        occupied = self.machine.presence["customer"] != "left"
        try:
            return self.seat.admit(message.resume, occupied, utcnow())
        except ProtocolError as refusal:
            if refusal.code == "seat_taken" and self.seat.refusal_worth_telling(time.monotonic()):
                self.events.seat_refused("customer", browser)
                logger.info("session %s: another browser (%s) was kept out", self.session_id, browser)
                await self._carry_out(self.machine.customer_kept_out(browser))
            raise

    async def _customer_decides(self, consent: bool) -> None:
        """Consent is the customer's to give and to withdraw at every join (a reload, another device):
        recording starts, pauses or resumes at that moment, in the same file, and the log says when.
        Nothing is written while it is withdrawn."""
        self.consent = consent
        if consent:
            if self.recorder is None:
                self.recorder = Recorder(self.files.media)
                self.media.start_recording(self.recorder)
                self.events.recording_started()
            elif self.recorder.paused:
                self.recorder.resume()
                self.media.request_keyframe()  # the file goes on at a keyframe
                self.events.recording_resumed()
        elif self.recorder is not None and not self.recorder.paused:
            self.recorder.pause()
            self.events.recording_paused()
        self.events.consent(consent)
        await run_blocking(mark_live, self.db, self.session_id, consent)

    def recording_status(self) -> RecordingState:
        """What the badges show: recording, or not because the customer declined (or withdrew)."""
        if self.consent is False:
            return "declined"
        return "recording" if self.recorder is not None and not self.recorder.paused else "none"

    async def handle(self, conn: Connection, message: ClientMessage) -> None:
        role = self.machine.check_allowed(conn.id, message)
        if isinstance(message, Offer):
            check_offer(message.sdp)
            try:
                answer = await self.media.accept_offer(role, conn.id, message.sdp)
            except ValueError as exc:
                raise ProtocolError("bad_offer", str(exc)) from None
            await conn.send(Answer(sdp=answer))
        elif isinstance(message, IceCandidate):
            check_candidate(message.candidate)
            try:
                await self.media.add_candidate(role, message.candidate, message.sdpMid, message.sdpMLineIndex)
            except (ValueError, IndexError) as exc:
                raise ProtocolError("bad_candidate", f"the ICE candidate could not be used: {exc}") from None
        elif isinstance(message, ChatSend):
            self._allow_chat(role)
            chat = ChatMessage(
                id=new_id(),
                from_role=role,
                text=message.text,
                sent_at=utc_timestamp("seconds"),
            )
            self.events.chat(chat.id, role, chat.text)
            await self._carry_out(self.machine.broadcast(chat))
        elif isinstance(message, EndSession):
            await self.end("the expert ended the session")
        elif isinstance(message, Ping):
            await conn.send(Pong())
        elif isinstance(message, SetProcedure):
            await self.ar.set_procedure(message.procedure_id, by="expert")
            await run_blocking(set_case_procedure, self.db, self.case_id, message.procedure_id)
        elif isinstance(message, StepCommand):
            await self.ar.step_command(message.action, message.step_id)
        elif isinstance(message, Annotate):
            await self.ar.annotate(message)
        elif isinstance(message, RemoveAnnotation):
            await self.ar.remove_annotation(message.id)
        elif isinstance(message, PointerMove):
            await self.ar.pointer(message)
        elif isinstance(message, TakeSnapshot):
            if self.consent is not True:
                raise ProtocolError("no_consent", "the customer has not agreed to recording, so no snapshots")
            await conn.send(await self.ar.snapshot())
        elif isinstance(message, SetBurnIn):
            self.ar.set_burn_in(message.enabled)
            await conn.send(BurnInState(enabled=message.enabled))
        elif isinstance(message, ClientProblem):
            await self.client_problem(role, message.problem)
        elif isinstance(message, SetLanguage):
            await self.ar.set_customer_language(message.language)
            await self.broadcast(self._customer_info(), "expert")
        elif isinstance(message, LinkReport):
            await self.broadcast(self.customer_link.accept(message, time.monotonic()), "expert")

    def _allow_chat(self, role: Role) -> None:
        """Refuse a chat line past the role's allowance (``signaling.rate``): the line is neither
        logged nor passed on, and the sender is told when to send it again."""
        wait_s = self._chat_allowance.setdefault(role, chat_bucket()).take(time.monotonic())
        if wait_s > 0:
            raise ProtocolError(
                "chat_rate_limited",
                f"too many chat lines at once (at most {CHAT_BURST_LINES} in 10 s): "
                f"wait {max(1, round(wait_s))} s and send it again",
            )

    # --- what keeps a participant out ------------------------------------------------------

    def _customer_info(self, problem: str | None = None) -> ParticipantInfo:
        browser = self.browsers.get("customer", "an unknown browser")
        problem, language = problem or self.customer_problem, self.customer_language
        return ParticipantInfo(role="customer", browser=browser, problem=problem, language=language)

    async def client_problem(self, role: Role, problem: str, browser: str | None = None) -> None:
        """A page cannot take part: the log keeps it (the case shows it), and the expert is told."""
        if browser is not None:
            self.browsers[role] = browser
        heard = self.problems_heard.setdefault(role, set())
        if problem not in heard and len(heard) < MAX_PROBLEMS_HEARD:
            heard.add(problem)
            self.events.client_problem(role, problem, self.browsers.get(role))
            logger.warning("session %s: the %s's page: %s", self.session_id, role, problem)
        if role == "customer" and problem != self.customer_problem:
            self.customer_problem = problem
            await self.broadcast(self._customer_info(problem), "expert")

    def _watch_media_arrival(self, connection_id: str) -> None:
        """After a customer joins, their video must reach the server: if none has come after
        ``Settings.media_arrival_s`` while they are still there, something between their browser and
        the server stops it, and the expert must not wait on a black screen without knowing."""
        joined_at = time.monotonic()
        wait_s = self.registry.settings.media_arrival_s

        async def check() -> None:
            arrived = self.media.customer_video_at
            still_there = (
                self.machine.connections["customer"] == connection_id and self.machine.phase == "open"
            )
            if still_there and (arrived is None or arrived < joined_at):
                browser = self.browsers.get("customer", "browser")
                await self.client_problem(
                    "customer",
                    f"no video has reached the server {wait_s:.0f} s after the customer joined "
                    f"({browser}): their camera, their browser or the network is not letting it through",
                )

        self._timers.append(
            asyncio.get_running_loop().call_later(wait_s, lambda: asyncio.ensure_future(check()))
        )

    async def broadcast(self, message: ServerMessage, role: str | None) -> None:
        """Send to one role's socket, or to both (``role`` None)."""
        for target in ("customer", "expert"):
            conn_id = self.machine.connections[target]  # type: ignore[index]
            if conn_id is not None and role in (None, target) and conn_id in self.connections:
                await self.connections[conn_id].send(message)

    async def disconnected(self, conn: Connection, close_code: int | None) -> None:
        """A socket closed. A clean close means the participant left; otherwise they may come back."""
        self.connections.pop(conn.id, None)
        for media_role in ("customer", "expert"):
            await self.media.close_leg(media_role, conn.id)  # also a replaced socket's leg
        role = self.machine.role_of(conn.id)
        if role is None:
            return
        if close_code in CLEAN_CLOSE_CODES:
            await self._leave(role, conn.id)
            return
        self.events.reconnecting(role)
        await self._carry_out(self.machine.media_lost(role, conn.id))
        loop = asyncio.get_running_loop()
        self._grace[conn.id] = loop.call_later(
            self.registry.settings.reconnect_grace_s,
            lambda: asyncio.ensure_future(self._leave(role, conn.id)),
        )

    async def _leave(self, role: Role, connection_id: str) -> None:
        handle = self._grace.pop(connection_id, None)
        if handle is not None:
            handle.cancel()
        actions = self.machine.leave(role, connection_id)
        if actions or self.machine.connections[role] is None:
            self.events.leave(role)
        await self._carry_out(actions)
        if all(c is None for c in self.machine.connections.values()) and self.machine.phase != "ended":
            # Nobody is left: keep the session open for a while (a reload must not cut the
            # recording in two), then end it so the recording is finalised.
            self._idle = asyncio.get_running_loop().call_later(
                self.registry.settings.idle_end_s, lambda: asyncio.ensure_future(self.end("everyone left"))
            )

    def _video_gap(self, gap_s: float) -> None:
        """The customer's video came back after a gap (a dropped network, a reload): the log marks
        where the recording has none, on the recording's clock (null without a recording)."""
        to_ms = self._recording_ms()
        gap_ms = round(gap_s * 1000)
        from_ms = max(0, to_ms - gap_ms) if to_ms is not None else None
        self.events.media_gap("customer", gap_ms, from_ms, to_ms)
        logger.info("session %s: the customer's video is back after %.1f s", self.session_id, gap_s)

    def _on_media_state(self, role: str, connection_id: str, state: str) -> None:
        if state == "failed":
            asyncio.ensure_future(self._carry_out(self.machine.media_lost(role, connection_id)))  # type: ignore[arg-type]

    # --- the end -------------------------------------------------------------------------

    async def end(self, reason: str) -> None:
        async with self._lock:
            if self.machine.phase == "ended":
                return
            actions = self.machine.end(reason)
            self.events.session_ended(reason)
            for handle in [*self._grace.values(), *([self._idle] if self._idle else []), *self._timers]:
                handle.cancel()
            self._grace.clear()
            self.ar.close()
            await self.media.close()
            recording = None
            if self.recorder is not None:
                duration = await run_blocking(self.recorder.close)
                recording = RecordingSummary(self.files.media.exists(), duration)
            self.events.close()
            await run_blocking(mark_ended, self.db, self.session_id, reason, recording)
            if recording is not None and recording.media_exists:
                media = self.files.media  # both voices into the default track, in the background
                self.registry.jobs.start(media, mix_voices_job(media))
            self.registry.forget(self)
            # Told last, so whoever hears "ended" finds the recording finalised; the badges first
            # say what became of the recording.
            final = await run_blocking(load_session, self.db, self.session_id)
            status = RecordingStatus(status=cast(RecordingState, final.recording_status))
            told = [Send(a.connection_id, status) for a in actions if isinstance(a, Send)]
            await self._carry_out([*told, *actions])
            logger.info("session %s ended (%s); recording %s", self.session_id, reason, recording)

    async def _carry_out(self, actions: list[Action]) -> None:
        for action in actions:
            conn = self.connections.get(action.connection_id)
            if conn is None:
                continue
            if isinstance(action, Send):
                await conn.send(action.message)
            elif isinstance(action, Close):
                self.connections.pop(action.connection_id, None)
                await conn.close(action.code, action.reason)
