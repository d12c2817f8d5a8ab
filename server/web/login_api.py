"""Signing in and out: the sign-in page's form, the JSON sign-in for scripts, and who is signed in."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ..blocking import run_blocking
from ..records.accounts import verify_login
from .auth import require_staff
from .bodies import LoginBody, parse_json, read_form
from .errors import ApiError
from .state import services


def safe_next(target: str | None) -> str:
    """Only a path on this site: ``next`` must not send a fresh sign-in to another host."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


async def login_form(request: Request) -> Response:
    """POST /login from the sign-in page. ``next`` comes as a form field or a query parameter."""
    form = await read_form(request)
    target = safe_next(form.get("next") or request.query_params.get("next"))
    principal = await run_blocking(
        verify_login, services(request).db, form.get("username", ""), form.get("password", "")
    )
    if principal is None:
        query = "error=1" if target == "/" else f"error=1&next={quote(target, safe='')}"
        return RedirectResponse(f"/?{query}", status_code=303)
    request.session.clear()
    request.session["user_id"] = principal.user_id
    return RedirectResponse(target, status_code=303)


async def api_login(request: Request) -> JSONResponse:
    body = await parse_json(request, LoginBody)
    principal = await run_blocking(verify_login, services(request).db, body.username, body.password)
    if principal is None:
        raise ApiError(401, "unauthorized", "wrong username or password")
    request.session.clear()
    request.session["user_id"] = principal.user_id
    return JSONResponse({"username": principal.username, "role": principal.role})


async def logout(request: Request) -> RedirectResponse:
    request.session.clear()
    return RedirectResponse("/", status_code=303)


async def me(request: Request) -> JSONResponse:
    principal = await run_blocking(require_staff, request)
    return JSONResponse({"username": principal.username, "role": principal.role})


def routes() -> list[Route]:
    return [
        Route("/login", login_form, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/api/login", api_login, methods=["POST"]),
        Route("/api/me", me, methods=["GET"]),
    ]
