"""Who is calling: the bearer token or cookie of a request, and the roles a route needs."""

from __future__ import annotations

import pytest

from procedures import ProcedureLibrary
from server.config import Settings
from server.live.registry import LiveRegistry
from server.live.workers.pool import MediaWorkers
from server.recordings.jobs import FileJobs
from server.records import accounts as auth
from server.records.database import Database
from server.web.auth import require_role, require_staff
from server.web.errors import ApiError
from server.web.state import Services


def test_require_role_names_what_is_needed() -> None:
    class FakeConnection:
        """Just what ``resolve_principal`` reads: a bearer header, the app's db, no cookie."""

        def __init__(self, db: Database, token: str) -> None:
            self.headers = {"authorization": f"Bearer {token}"}
            self.scope: dict = {}
            services = Services(
                Settings(),
                db,
                ProcedureLibrary(),
                LiveRegistry(Settings(), db, ProcedureLibrary(), MediaWorkers(1)),
                FileJobs(),
            )
            self.app = type("App", (), {"state": type("State", (), {"services": services})()})()

    db = Database("sqlite://")
    user = auth.create_user(db, "tom", "trainer", "correct-horse")
    token = auth.create_api_token(db, user)
    conn = FakeConnection(db, token)
    assert require_staff(conn).username == "tom"  # type: ignore[arg-type]
    with pytest.raises(ApiError) as refused:
        require_role(conn, "expert", "admin")  # type: ignore[arg-type]
    assert refused.value.status == 403
    assert refused.value.message == "this needs the role expert or admin; you are signed in as trainer"
