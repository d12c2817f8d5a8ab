"""REST calls that must happen on the process holding a session: here when it is held here, else
forwarded to its owner over the internal endpoint (``internal_api.py``)."""

from __future__ import annotations

from signaling.messages import Role

from ..cluster.internal import forward
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
