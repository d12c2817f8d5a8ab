"""``repairsight user`` and ``repairsight token``: staff accounts and API tokens, from the shell.

``token create`` prints the token alone on stdout (messages go to stderr), so scripts can write
``TOKEN=$(repairsight token create)``.
"""

from __future__ import annotations

import argparse
import sys

from ..errors import DomainError
from ..records.accounts import (
    create_api_token,
    create_user,
    ensure_first_admin,
    find_user,
    first_admin,
    generate_password,
)
from .common import CliError, err, first_admin_message, open_database, settings_of


def user_add(args: argparse.Namespace) -> int:
    db = open_database(settings_of(args))
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError("--password-stdin: read an empty password; pipe the password in, one line")
        generated = False
    else:
        password = generate_password()
        generated = True
    try:
        create_user(db, args.username, args.role, password)
    except DomainError as exc:
        raise CliError(str(exc)) from None
    print(f"Created {args.role} {args.username!r}.")
    if generated:
        print(f"One-time password: {password} (shown only this once)")
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
            raise CliError("there is no admin account; name the token's owner with --user USERNAME")
    token = create_api_token(db, user, args.label)
    err(f"Created an API token for {user.username!r} ({user.role}); send it as 'Authorization: Bearer ...'")
    print(token, flush=True)
    return 0
