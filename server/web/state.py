"""What the web layer reaches through ``app.state``, typed: one :class:`Services` made by the app
factory, read with :func:`services` (never ``app.state.<name>`` spelled out in a route)."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import HTTPConnection

from procedures import ProcedureLibrary

from ..config import Settings
from ..live.demo import DemoCustomers
from ..live.registry import LiveRegistry
from ..recordings.jobs import FileJobs
from ..records.database import Database
from .signin_throttle import SignInThrottle


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    procedures: ProcedureLibrary
    live: LiveRegistry
    jobs: FileJobs
    # Proves a call comes from another process of this service (``server/cluster/internal.py``);
    # empty: none is accepted.
    internal_secret: str = ""
    signin: SignInThrottle = field(default_factory=SignInThrottle)
    # The demo customers this process runs (``POST /api/demo``), one per expert.
    demos: DemoCustomers = field(default_factory=DemoCustomers)


def services(conn: HTTPConnection) -> Services:
    found = conn.app.state.services
    assert isinstance(found, Services)
    return found
