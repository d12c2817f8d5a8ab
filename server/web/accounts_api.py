"""Staff accounts for admins (``docs/api-contract.md``): list them, disable or enable one, reset a
password to a new one-time password, and see and end the browsers signed in. The rules (the last
enabled admin, one-time passwords, sign-ins) are ``records/``'s; the same actions from the shell are
``repairsight user ...``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..blocking import run_blocking
from ..clock import iso
from ..records.accounts import list_users, reset_password, set_disabled
from ..records.signins import SignInInfo, end_sign_in, list_sign_ins
from .auth import require_role
from .pagination import page_of, page_request
from .presenters import user_json
from .state import services

ADMINS = ("admin",)


async def users_list(request: Request) -> JSONResponse:
    await run_blocking(require_role, request, *ADMINS)
    users, paging = page_of(await run_blocking(list_users, services(request).db), page_request(request))
    return JSONResponse({"users": [user_json(user) for user in users], **paging})


async def user_disable(request: Request) -> JSONResponse:
    principal = await run_blocking(require_role, request, *ADMINS)
    user = await run_blocking(
        set_disabled,
        services(request).db,
        request.path_params["user_id"],
        True,
        actor_id=principal.user_id,
    )
    return JSONResponse(user_json(user))


async def user_enable(request: Request) -> JSONResponse:
    await run_blocking(require_role, request, *ADMINS)
    user = await run_blocking(set_disabled, services(request).db, request.path_params["user_id"], False)
    return JSONResponse(user_json(user))


async def user_password_reset(request: Request) -> JSONResponse:
    """A new generated password, returned this once; its owner must change it at their next sign-in."""
    await run_blocking(require_role, request, *ADMINS)
    user, password = await run_blocking(reset_password, services(request).db, request.path_params["user_id"])
    return JSONResponse({"user": user_json(user), "password": password})


def sign_in_json(info: SignInInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "username": info.username,
        "created_at": iso(info.created_at),
        "last_seen_at": iso(info.last_seen_at),
        "address": info.address,
        "user_agent": info.user_agent,
    }


async def sign_ins_list(request: Request) -> JSONResponse:
    """The browsers signed in now, most recently seen first."""
    await run_blocking(require_role, request, *ADMINS)
    found, paging = page_of(await run_blocking(list_sign_ins, services(request).db), page_request(request))
    return JSONResponse({"sign_ins": [sign_in_json(info) for info in found], **paging})


async def sign_in_end(request: Request) -> JSONResponse:
    """End one sign-in: that browser's cookie stops working at once."""
    await run_blocking(require_role, request, *ADMINS)
    ended = await run_blocking(end_sign_in, services(request).db, request.path_params["sign_in_id"])
    return JSONResponse(sign_in_json(ended))


def routes() -> list[Route]:
    return [
        Route("/api/users", users_list, methods=["GET"]),
        Route("/api/users/{user_id}/disable", user_disable, methods=["POST"]),
        Route("/api/users/{user_id}/enable", user_enable, methods=["POST"]),
        Route("/api/users/{user_id}/password", user_password_reset, methods=["POST"]),
        Route("/api/sign-ins", sign_ins_list, methods=["GET"]),
        Route("/api/sign-ins/{sign_in_id}/end", sign_in_end, methods=["POST"]),
    ]
