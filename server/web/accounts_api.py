"""Staff accounts for admins (``docs/api-contract.md``): list them, disable or enable one, and reset a
password to a new one-time password. The rules (the last enabled admin, one-time passwords) are
``records/accounts.py``'s; the same actions from the shell are ``repairsight user ...``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..blocking import run_blocking
from ..records.accounts import list_users, reset_password, set_disabled
from .auth import require_role
from .presenters import user_json
from .state import services

ADMINS = ("admin",)


async def users_list(request: Request) -> JSONResponse:
    await run_blocking(require_role, request, *ADMINS)
    users = await run_blocking(list_users, services(request).db)
    return JSONResponse({"users": [user_json(user) for user in users]})


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


def routes() -> list[Route]:
    return [
        Route("/api/users", users_list, methods=["GET"]),
        Route("/api/users/{user_id}/disable", user_disable, methods=["POST"]),
        Route("/api/users/{user_id}/enable", user_enable, methods=["POST"]),
        Route("/api/users/{user_id}/password", user_password_reset, methods=["POST"]),
    ]
