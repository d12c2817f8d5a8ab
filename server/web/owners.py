"""REST calls that must happen on the process holding a session: here when it is held here, else
forwarded to its owner over the internal endpoint (``internal_api.py``)."""

from __future__ import annotations

from signaling.messages import Role

from ..cluster.internal import forward
from ..errors import Conflict
from ..live.selfhelp import StepPosition, customer_done
from ..live.selfhelp import step_position as position_here
from .state import Services


async def end_session(found: Services, session_id: str, reason: str) -> bool:
    """End a live session wherever it is held (both sides told, recording finalised there); False
    when no process holds it (nobody joined yet)."""
    if await found.live.end(session_id, reason):
        return True
    owner = await found.live.cluster.owner_elsewhere(session_id)
    if owner is None:
        return False
    answer = await forward(
        owner, found.internal_secret, f"/internal/sessions/{session_id}/end", {"reason": reason}
    )
    return bool(answer.get("ended"))


async def report_problem(found: Services, session_id: str, role: Role, problem: str, browser: str) -> None:
    """A page cannot join: its session's owner tells the expert (or keeps it in the log)."""
    owner = (
        None if session_id in found.live.sessions else await found.live.cluster.owner_elsewhere(session_id)
    )
    if owner is None:
        await found.live.report_problem(session_id, role, problem, browser)
        return
    body = {"role": role, "problem": problem, "browser": browser}
    await forward(owner, found.internal_secret, f"/internal/sessions/{session_id}/problem", body)


async def step_position(found: Services, session_id: str) -> StepPosition | None:
    """Where a live session is in its procedure, wherever it is held; None when none holds it."""
    live = found.live.sessions.get(session_id)
    if live is not None:
        return position_here(live)
    return await _self_help_call(found, session_id, "position", {})


async def customer_step_done(found: Services, session_id: str, step_id: str) -> StepPosition | None:
    """A self-help customer's "Done" tap, on the process holding the session (``live/selfhelp.py``);
    None when none holds it (the customer is not in it)."""
    live = found.live.sessions.get(session_id)
    if live is not None:
        return await customer_done(live, step_id)
    return await _self_help_call(found, session_id, "done", {"step_id": step_id})


async def _self_help_call(
    found: Services, session_id: str, action: str, body: dict[str, str]
) -> StepPosition | None:
    owner = await found.live.cluster.owner_elsewhere(session_id)
    if owner is None:
        return None
    answer = await forward(
        owner, found.internal_secret, f"/internal/sessions/{session_id}/self-help/{action}", body
    )
    if answer.get("conflict"):
        raise Conflict(str(answer["conflict"]))
    position = answer.get("position")
    if not isinstance(position, dict):
        return None
    return StepPosition(
        position["procedure_id"], position["step_id"], tuple(position["completed"]), position["finished"]
    )
