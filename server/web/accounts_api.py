"""Staff accounts for admins (``docs/api-contract.md``): list them, disable or enable one, reset a
password to a new one-time password, and see and end the browsers signed in. The rules (the last
enabled admin, one-time passwords, sign-ins) are ``records/``'s; the same actions from the shell are
``repairsight user ...``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from ..blocking import run_blocking
from ..clock import iso
from ..records.accounts import list_users, reset_password, set_disabled
from ..records.signins import SignInInfo, end_sign_in, list_sign_ins
from .auth import require_role
from .operations import responds
from .pagination import page_of, page_request
from .presenters import user_json
from .response_models import PasswordReset, SignInAnswer, SignInPage, UserAnswer, UserPage
from .state import services

ADMINS = ("admin",)


@responds(UserPage, summary="The staff accounts, oldest first", access="admin", paged=True)
async def users_list(request: Request) -> dict[str, Any]:
    await run_blocking(require_role, request, *ADMINS)
    users, paging = page_of(await run_blocking(list_users, services(request).db), page_request(request))
    return {"users": [user_json(user) for user in users], **paging}


@responds(UserAnswer, summary="Disable an account", access="admin")
async def user_disable(request: Request) -> dict[str, Any]:
    principal = await run_blocking(require_role, request, *ADMINS)
    user = await run_blocking(
        set_disabled,
        services(request).db,
        request.path_params["user_id"],
        True,
        actor_id=principal.user_id,
    )
    return user_json(user)


@responds(UserAnswer, summary="Enable an account", access="admin")
async def user_enable(request: Request) -> dict[str, Any]:
    await run_blocking(require_role, request, *ADMINS)
    user = await run_blocking(set_disabled, services(request).db, request.path_params["user_id"], False)
    return user_json(user)


@responds(PasswordReset, summary="Reset an account's password to a new one-time one", access="admin")
async def user_password_reset(request: Request) -> dict[str, Any]:
    """A new generated password, returned this once; its owner must change it at their next sign-in."""
    await run_blocking(require_role, request, *ADMINS)
    user, password = await run_blocking(reset_password, services(request).db, request.path_params["user_id"])
    return {"user": user_json(user), "password": password}


def sign_in_json(info: SignInInfo) -> dict[str, Any]:
    return {
        "id": info.id,
        "username": info.username,
        "created_at": iso(info.created_at),
        "last_seen_at": iso(info.last_seen_at),
        "address": info.address,
        "user_agent": info.user_agent,
    }


@responds(SignInPage, summary="The browsers signed in, most recently seen first", access="admin", paged=True)
async def sign_ins_list(request: Request) -> dict[str, Any]:
    """The browsers signed in now, most recently seen first."""
    await run_blocking(require_role, request, *ADMINS)
    found, paging = page_of(await run_blocking(list_sign_ins, services(request).db), page_request(request))
    return {"sign_ins": [sign_in_json(info) for info in found], **paging}


@responds(SignInAnswer, summary="End a sign-in (its cookie stops working)", access="admin")
async def sign_in_end(request: Request) -> dict[str, Any]:
    """End one sign-in: that browser's cookie stops working at once."""
    await run_blocking(require_role, request, *ADMINS)
    ended = await run_blocking(end_sign_in, services(request).db, request.path_params["sign_in_id"])
    return sign_in_json(ended)


def routes() -> list[Route]:
    return [
        Route("/api/users", users_list, methods=["GET"]),
        Route("/api/users/{user_id}/disable", user_disable, methods=["POST"]),
        Route("/api/users/{user_id}/enable", user_enable, methods=["POST"]),
        Route("/api/users/{user_id}/password", user_password_reset, methods=["POST"]),
        Route("/api/sign-ins", sign_ins_list, methods=["GET"]),
        Route("/api/sign-ins/{sign_in_id}/end", sign_in_end, methods=["POST"]),
    ]
