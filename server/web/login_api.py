"""Signing in and out, and changing one's own password: the sign-in page's form, the JSON sign-in
for scripts, who is signed in, and the change that a one-time password must go through first."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ..blocking import run_blocking
from ..errors import NotFound
from ..metrics import SIGN_IN_FAILURES
from ..records.accounts import AccountDisabled, Principal, change_password, verify_login
from ..records.signins import end_sign_in, end_sign_ins_of, start_sign_in
from .auth import PASSWORD_PAGE, PASSWORD_ROUTE, password_change_required, require_staff
from .bodies import LoginBody, PasswordChangeBody, parse_json, read_form
from .errors import ApiError, error_response
from .operations import responds
from .origin import require_same_origin
from .response_models import Me
from .signin_throttle import SignInRefused
from .state import services


def safe_next(target: str | None) -> str:
    """Only a path on this site: ``next`` must not send a fresh sign-in to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def password_page_url(target: str) -> str:
    """The change-password page, telling it the change is required and where to go after."""
    return f"{PASSWORD_PAGE}?required=1" + ("" if target == "/" else f"&next={quote(target, safe='')}")


def login_error_url(error: str, target: str) -> str:
    return f"/?error={error}" if target == "/" else f"/?error={error}&next={quote(target, safe='')}"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def throttled_login(request: Request, username: str, password: str) -> Principal | None:
    """``verify_login`` behind the sign-in throttle: refused (:class:`SignInRefused`) before any
    hash once the account or the address has failed too often; a failure counts against both."""
    throttle = services(request).signin
    address = client_address(request)
    try:
        throttle.check_allowed(username, address)
    except SignInRefused:
        SIGN_IN_FAILURES.labels("throttled").inc()
        raise
    async with throttle.checking():
        try:
            principal = await run_blocking(verify_login, services(request).db, username, password)
        except AccountDisabled:
            SIGN_IN_FAILURES.labels("disabled").inc()
            throttle.failed(username, address)
            raise
    if principal is None:
        SIGN_IN_FAILURES.labels("wrong_password").inc()
        throttle.failed(username, address)
    else:
        throttle.succeeded(username)
    return principal


def refused_response(refused: SignInRefused) -> Response:
    response = error_response(429, refused.code, refused.message)
    response.headers["Retry-After"] = str(refused.retry_after_s)
    return response


async def sign_in(request: Request, principal: Principal) -> None:
    """A new server-side sign-in (``server/records/signins.py``) named by the cookie."""
    assert principal.user_id is not None
    sign_in_id = await run_blocking(
        start_sign_in,
        services(request).db,
        principal.user_id,
        client_address(request),
        request.headers.get("user-agent"),
    )
    request.session.clear()
    request.session["user_id"] = principal.user_id
    request.session["sign_in"] = sign_in_id


async def login_form(request: Request) -> Response:
    """POST /login from the sign-in page. ``next`` comes as a form field or a query parameter."""
    require_same_origin(request)
    form = await read_form(request)
    target = safe_next(form.get("next") or request.query_params.get("next"))
    try:
        principal = await throttled_login(request, form.get("username", ""), form.get("password", ""))
    except AccountDisabled:
        return RedirectResponse(login_error_url("disabled", target), status_code=303)
    except SignInRefused as too_many:
        url = login_error_url("throttled", target) + f"&retry={too_many.retry_after_s}"
        return RedirectResponse(url, status_code=303)
    if principal is None:
        return RedirectResponse(login_error_url("1", target), status_code=303)
    await sign_in(request, principal)
    if principal.must_change_password:
        return RedirectResponse(password_page_url(target), status_code=303)
    return RedirectResponse(target, status_code=303)


@responds(Me, summary="Sign in (sets the cookie)", access="anyone", body=LoginBody)
async def api_login(request: Request) -> Response | dict[str, str]:
    """POST /api/login. A one-time password signs in only far enough to change it: the cookie is
    set, and the answer is 403 ``password_change_required`` so a script stops here and says why."""
    body = await parse_json(request, LoginBody)
    try:
        principal = await throttled_login(request, body.username, body.password)
    except AccountDisabled as exc:
        raise ApiError(403, exc.code, exc.message) from None
    except SignInRefused as too_many:
        return refused_response(too_many)
    if principal is None:
        raise ApiError(401, "unauthorized", "wrong username or password")
    await sign_in(request, principal)
    if principal.must_change_password:
        # Returned rather than raised, so the answer is plainly the one that carries the cookie.
        refused = password_change_required()
        return error_response(refused.status, refused.code, refused.message)
    return {"username": principal.username, "role": principal.role}


@responds(Me, summary="Change one's own password", access="staff", body=PasswordChangeBody)
async def api_password(request: Request) -> dict[str, str]:
    """POST /api/password: the caller changes their own password (the current one is required)."""
    principal = await run_blocking(require_staff, request, password_change_ok=True)
    body = await parse_json(request, PasswordChangeBody)
    assert principal.user_id is not None  # staff principals always name their user
    changed = await run_blocking(
        change_password, services(request).db, principal.user_id, body.current_password, body.new_password
    )
    # The user's other browsers (maybe someone who learned the old password) are signed out.
    current = request.session.get("sign_in")
    await run_blocking(
        end_sign_ins_of,
        services(request).db,
        principal.user_id,
        current if isinstance(current, str) else None,
    )
    return {"username": changed.username, "role": changed.role}


async def logout(request: Request) -> RedirectResponse:
    """Ends this browser's sign-in on the server too: the cookie, even copied, no longer works."""
    require_same_origin(request)
    sign_in_id = request.session.get("sign_in")
    if isinstance(sign_in_id, str):
        try:
            await run_blocking(end_sign_in, services(request).db, sign_in_id)
        except NotFound:
            pass  # ended already (by an admin, or a password change)
    request.session.clear()
    return RedirectResponse("/", status_code=303)


@responds(Me, summary="Who is signed in", access="staff")
async def me(request: Request) -> dict[str, str]:
    principal = await run_blocking(require_staff, request)
    return {"username": principal.username, "role": principal.role}


def routes() -> list[Route]:
    return [
        Route("/login", login_form, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/api/login", api_login, methods=["POST"]),
        Route(PASSWORD_ROUTE, api_password, methods=["POST"]),
        Route("/api/me", me, methods=["GET"]),
    ]
