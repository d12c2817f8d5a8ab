"""Who is calling a route or the WebSocket: a bearer token first (scripts), else the signed-in cookie.

A customer link token is answered with 403 on staff routes ("you are known, and not allowed
here") rather than 401, so a script that mixes up tokens gets an error that says which token it
sent. So is a token of a disabled account (``account_disabled``), and a sign-in with a one-time
password (``password_change_required``) on every staff route but changing it. The cookie
authenticates a state-changing request (or a WebSocket) only from a page of this site's own
origin (``origin.py``): 403 ``cross_origin`` otherwise. These read the database: call them
through ``run_blocking`` from async code.
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from ..records.accounts import AccountDisabled, Principal, principal_for_token
from ..records.signins import principal_for_sign_in
from .errors import ApiError
from .origin import require_same_origin
from .state import services

# Who may change cases and run sessions (trainers read).
EDITORS = ("expert", "admin")
# A demo (a sample clip played by the server, no customer) may also be run by a trainer: trying every
# tool with no phone at hand is part of training (docs/demo.md).
DEMO_RUNNERS = (*EDITORS, "trainer")
# Where a one-time password is changed: the page, and the route it posts to.
PASSWORD_PAGE = "/password"
PASSWORD_ROUTE = "/api/password"


def password_change_required() -> ApiError:
    return ApiError(
        403,
        "password_change_required",
        "you signed in with a one-time password: choose your own first "
        f"(the page {PASSWORD_PAGE}, or POST {PASSWORD_ROUTE} with current_password and new_password)",
    )


def resolve_principal(conn: HTTPConnection) -> Principal | None:
    """The caller of a request or WebSocket: bearer token first (scripts), else the signed-in cookie.

    A malformed ``Authorization`` header is an error rather than "not signed in", so a script
    with a typo hears about it instead of silently falling back to a browser cookie. A bearer
    token is never sent by a browser on its own, so only the cookie is checked for its origin.
    """
    db = services(conn).db
    header = conn.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "send the API token as 'Authorization: Bearer <token>'")
        try:
            principal = principal_for_token(db, token)
        except AccountDisabled as exc:
            raise ApiError(403, exc.code, exc.message) from None
        if principal is None:
            raise ApiError(
                401, "unauthorized", "unknown API token; create one with 'repairsight token create'"
            )
        return principal
    if "session" not in conn.scope or not isinstance(conn.session.get("user_id"), str):
        return None
    require_same_origin(conn)
    return cookie_principal(conn)


def cookie_principal(conn: HTTPConnection) -> Principal | None:
    """The staff user a signed-in cookie names while its sign-in lasts (``records/signins.py``):
    signing out, a password change elsewhere or an admin ends it on the server. Routes and pages
    both ask here. Blocking: call it off the event loop."""
    if "session" not in conn.scope:
        return None
    user_id, sign_in = conn.session.get("user_id"), conn.session.get("sign_in")
    if not isinstance(user_id, str):
        return None
    return principal_for_sign_in(services(conn).db, user_id, sign_in if isinstance(sign_in, str) else None)


def require_staff(conn: HTTPConnection, *, password_change_ok: bool = False) -> Principal:
    """The signed-in staff user; 401 when nobody is signed in, 403 for a customer link token, and
    403 ``password_change_required`` for a sign-in with a one-time password, unless
    ``password_change_ok`` (the one route that changes it)."""
    principal = resolve_principal(conn)
    if principal is None:
        raise ApiError(401, "unauthorized", "sign in first, or send 'Authorization: Bearer <API token>'")
    if not principal.is_staff:
        raise ApiError(403, "forbidden", "a customer link cannot be used here; use a staff API token")
    if principal.must_change_password and not password_change_ok:
        raise password_change_required()
    return principal


def require_role(conn: HTTPConnection, *roles: str) -> Principal:
    """Like ``require_staff``, and the user must have one of ``roles`` (403 otherwise)."""
    principal = require_staff(conn)
    if principal.role not in roles:
        raise ApiError(
            403,
            "forbidden",
            f"this needs the role {' or '.join(roles)}; you are signed in as {principal.role}",
        )
    return principal
