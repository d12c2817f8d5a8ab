"""``repairsight user`` and ``repairsight token``: staff accounts and API tokens, from the shell.

``token create`` prints the token alone on stdout (messages go to stderr), so scripts can write
``TOKEN=$(repairsight token create)``. The lists are plain aligned tables on stdout; a generated
password is printed once and is one-time (its owner must change it at the first sign-in).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime

from ..errors import DomainError
from ..records.accounts import (
    create_api_token,
    create_user,
    ensure_first_admin,
    find_user,
    first_admin,
    generate_password,
    list_tokens,
    list_users,
    revoke_token,
    set_disabled,
    set_password,
    user_named,
)
from .common import CliError, err, first_admin_message, open_database
from .options import settings_of

ONE_TIME_NOTE = "shown only this once; it must be changed at the next sign-in"


def password_from_stdin() -> str:
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise CliError("--password-stdin: read an empty password; pipe the password in, one line")
    return password


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, for people reading a terminal."""
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True))
        for line in (headers, *rows)
    ]
    return "\n".join(line.rstrip() for line in lines)


def when(moment: datetime) -> str:
    """A stored (naive UTC) moment to the minute: ``2026-11-22 11:00``."""
    return moment.strftime("%Y-%m-%d %H:%M")


def yes_no(value: bool) -> str:
    return "yes" if value else "no"


def user_add(args: argparse.Namespace) -> int:
    db = open_database(settings_of(args))
    generated = not args.password_stdin
    password = generate_password() if generated else password_from_stdin()
    create_user(db, args.username, args.role, password, one_time=generated)
    print(f"Created {args.role} {args.username!r}.")
    if generated:
        print(f"One-time password: {password} ({ONE_TIME_NOTE})")
    return 0


def user_list(args: argparse.Namespace) -> int:
    users = list_users(open_database(settings_of(args)))
    if not users:
        err(
            "No staff accounts yet: 'repairsight serve' makes the first admin, 'repairsight user add' others."
        )
        return 0
    headers = ("USERNAME", "ROLE", "CREATED (UTC)", "DISABLED", "MUST CHANGE PASSWORD")
    rows = [
        (
            user.username,
            user.role,
            when(user.created_at),
            yes_no(user.disabled),
            yes_no(user.must_change_password),
        )
        for user in users
    ]
    print(table(headers, rows))
    return 0


def user_passwd(args: argparse.Namespace) -> int:
    db = open_database(settings_of(args))
    generated = not args.password_stdin
    password = generate_password() if generated else password_from_stdin()
    user = user_named(db, args.username)
    set_password(db, user.id, password, one_time=generated)
    print(f"Set a new password for {user.username!r}.")
    if generated:
        print(f"One-time password: {password} ({ONE_TIME_NOTE})")
    if user.disabled:
        err(
            f"Note: {user.username!r} is disabled; 'repairsight user enable {user.username}' lets it sign in."
        )
    return 0


def user_disable(args: argparse.Namespace) -> int:
    db = open_database(settings_of(args))
    user = user_named(db, args.username)
    set_disabled(db, user.id, True)
    print(
        f"Disabled {user.username!r}: it cannot sign in, and its signed-in browsers and API tokens stop "
        "working now. 'repairsight user enable' undoes it (the tokens work again then; "
        "'repairsight token revoke' ends them for good)."
    )
    return 0


def user_enable(args: argparse.Namespace) -> int:
    db = open_database(settings_of(args))
    user = user_named(db, args.username)
    set_disabled(db, user.id, False)
    print(f"Enabled {user.username!r}: it can sign in again, and its API tokens work again.")
    return 0


def token_create(args: argparse.Namespace) -> int:
    db = open_database(settings_of(args))
    if args.user is not None:
        user = find_user(db, args.user)
        if user is None:
            raise CliError(f"no user named {args.user!r}; add one with 'repairsight user add'")
    else:
        password = ensure_first_admin(db)
        if password is not None:
            err(first_admin_message(password))
        user = first_admin(db)
        if user is None:
            raise CliError("there is no enabled admin account; name the token's owner with --user USERNAME")
    if user.disabled:
        raise CliError(f"{user.username!r} is disabled, so its tokens would not work; enable it first")
    token = create_api_token(db, user, args.label)
    err(f"Created an API token for {user.username!r} ({user.role}); send it as 'Authorization: Bearer ...'")
    print(token, flush=True)
    return 0


def token_list(args: argparse.Namespace) -> int:
    tokens = list_tokens(open_database(settings_of(args)), args.user)
    if not tokens:
        err(
            "No API tokens"
            + (f" of {args.user!r}" if args.user else "")
            + "; 'repairsight token create' makes one."
        )
        return 0
    headers = ("ID", "OWNER", "LABEL", "CREATED (UTC)")
    print(table(headers, [(t.id, t.username, t.label or "-", when(t.created_at)) for t in tokens]))
    return 0


def token_revoke(args: argparse.Namespace) -> int:
    revoked = revoke_token(open_database(settings_of(args)), args.token_id)
    label = f" ({revoked.label})" if revoked.label else ""
    print(f"Revoked the API token {revoked.id}{label} of {revoked.username!r}; it no longer works.")
    return 0


USER_COMMANDS = {
    "add": user_add,
    "list": user_list,
    "passwd": user_passwd,
    "disable": user_disable,
    "enable": user_enable,
}
TOKEN_COMMANDS = {"create": token_create, "list": token_list, "revoke": token_revoke}


def run(args: argparse.Namespace) -> int:
    """Run ``user ACTION`` or ``token ACTION``; a domain error (an unknown user, a password too short,
    the last admin) is the command's one-line error."""
    command = (
        USER_COMMANDS[args.user_command] if args.command == "user" else TOKEN_COMMANDS[args.token_command]
    )
    try:
        return command(args)
    except DomainError as exc:
        raise CliError(exc.message) from None
