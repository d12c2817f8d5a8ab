"""The ``repairsight`` command: run the server, manage users and API tokens, export, purge, vision tools.

Every subcommand works on a fresh data directory (the database is made on first use), so
``repairsight user add`` or ``token create`` can run before the server has ever started. Each option
also reads a ``REPAIRSIGHT_*`` environment variable, and secrets come only from the environment or
a file (``options.py``).
"""

from __future__ import annotations

import argparse
import sys

from ..config import DEFAULT_DATA_DIR
from ..records.vocabulary import STAFF_ROLES
from . import accounts, records, serve
from .common import CliError, err
from .options import SecretFlag, with_env


def vision(argv: list[str]) -> int:
    """Hands the rest of the command line to ``vision.cli`` (imported only here: it loads OpenCV)."""
    try:
        from vision import cli as vision_cli  # type: ignore[attr-defined, unused-ignore]
    except ModuleNotFoundError as exc:
        if exc.name not in ("vision", "vision.cli"):
            raise
        raise CliError("the vision tools are not installed in this environment") from None
    result = vision_cli.main(argv)
    return int(result or 0)


def build_parser() -> argparse.ArgumentParser:
    # Every option defaults to None, "not given": its value is then its variable's, else the default
    # of ``options.py`` (which the help repeats).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        help=with_env(
            f"where the recordings (and the SQLite database) live (default: {DEFAULT_DATA_DIR})", "data_dir"
        ),
    )
    common.add_argument(
        "--database-url",
        metavar="URL",
        help=with_env(
            "the database, e.g. postgresql+psycopg://repairsight@db.example.org/repairsight (default: the "
            "SQLite file in the data directory); its password goes in $REPAIRSIGHT_DATABASE_PASSWORD or "
            "$REPAIRSIGHT_DATABASE_PASSWORD_FILE, never here",
            "database_url",
        ),
    )
    parser = argparse.ArgumentParser(
        prog="repairsight",
        description=__doc__.splitlines()[0],
        epilog="Each option also reads the environment variable in [brackets]; the flag wins.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("serve", parents=[common], help="run the server")
    run.add_argument(
        "--host", help=with_env("address to listen on (default: 127.0.0.1; 0.0.0.0: every interface)", "host")
    )
    run.add_argument("--port", type=int, help=with_env("port to listen on (default: 8080)", "port"))
    tls = run.add_mutually_exclusive_group()
    tls.add_argument("--tls-cert", help=with_env("PEM certificate file (with --tls-key)", "tls_cert"))
    tls.add_argument(
        "--self-signed",
        action="store_true",
        default=None,
        help=with_env("make (or reuse) a self-signed certificate", "self_signed"),
    )
    run.add_argument("--tls-key", help=with_env("PEM private key file (with --tls-cert)", "tls_key"))
    run.add_argument(
        "--ice-server",
        dest="ice_servers",
        action="append",
        metavar="URL",
        help=with_env(
            "a STUN or TURN server, e.g. stun:stun.example.org:3478 (repeatable; the variable: "
            "comma-separated)",
            "ice_servers",
        ),
    )
    run.add_argument(
        "--ice-username",
        help=with_env(
            "username for the TURN servers (their credential: $REPAIRSIGHT_ICE_CREDENTIAL or "
            "$REPAIRSIGHT_ICE_CREDENTIAL_FILE)",
            "ice_username",
        ),
    )
    run.add_argument("--ice-credential", action=SecretFlag)  # a secret: from the environment or a file
    run.add_argument(
        "--public-url",
        help=with_env(
            "the URL people open the server at, e.g. https://help.example.org behind a proxy: customer "
            "links are made on it, and its host is one the server answers to",
            "public_url",
        ),
    )
    run.add_argument(
        "--allowed-hosts",
        metavar="HOSTS",
        help=with_env(
            "comma-separated host names requests may name besides the server's own (its public URL's, "
            "its address, localhost); *.example.org for subdomains, * for any",
            "allowed_hosts",
        ),
    )
    run.add_argument(
        "--procedures",
        action="append",
        metavar="DIR",
        help=with_env(
            "a directory of procedure folders to load beside the built-in ones (repeatable; the variable: "
            "separated by ':'; see docs/procedures.md)",
            "procedures",
        ),
    )
    run.add_argument(
        "--locales",
        metavar="DIR",
        help=with_env(
            "a directory of message catalogs (de.json, ...) that add languages to the customer page or "
            'override its words (see docs/customer-page.md, "Languages")',
            "locales",
        ),
    )
    run.add_argument(
        "--media-workers",
        type=int,
        metavar="N",
        help=with_env(
            "processes for decoding, vision and burn-in (default: one per core); a crash in one costs its "
            "sessions their AR for a moment, never the calls",
            "media_workers",
        ),
    )
    run.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help=with_env(
            "server processes on this machine behind the one port (default 1; more need --redis-url)",
            "workers",
        ),
    )
    run.add_argument(
        "--redis-url",
        help=with_env(
            "Redis that the processes of one service share, e.g. redis://127.0.0.1:6379/0", "redis_url"
        ),
    )
    run.add_argument(
        "--redis-prefix",
        help=with_env("prefix of this service's Redis keys (default: repairsight)", "redis_prefix"),
    )
    run.add_argument(
        "--lease-seconds",
        type=float,
        help=with_env(
            "how long after a process dies its sessions are ended by another (default 10)", "lease_seconds"
        ),
    )
    run.add_argument(
        "--drain-timeout",
        type=float,
        metavar="SECONDS",
        help=with_env(
            "after SIGTERM, how long live sessions go on before they are ended "
            "(default: 300 with Redis, 0 alone)",
            "drain_timeout",
        ),
    )
    run.add_argument(
        "--internal-host",
        help=with_env("the address other processes reach this one at (default 127.0.0.1)", "internal_host"),
    )
    run.add_argument(
        "--internal-port",
        type=int,
        help=with_env("this process's port for the other processes (default: any free one)", "internal_port"),
    )
    run.add_argument(
        "--reuse-port", action="store_true", default=None, help=argparse.SUPPRESS
    )  # workers share
    run.add_argument(
        "--log-format",
        choices=("text", "json"),
        help=with_env(
            "text: lines for a person at a terminal (default); json: one JSON object a line, with the "
            "session, case and node, for a log pipeline. Link tokens and secrets never appear in either",
            "log_format",
        ),
    )
    run.add_argument(
        "--vision-fps",
        type=float,
        help=with_env(
            "frames a second vision locates the device on (1-30, default 10): fewer cost less CPU; the "
            "pages carry the overlay between them (docs/vision.md, 'Pace')",
            "vision_fps",
        ),
    )
    # Tests and measurements only: hold each AR state this long, as a slow round trip would.
    run.add_argument("--ar-delay-ms", type=int, help=argparse.SUPPRESS)
    run.add_argument(
        "--media-relay",
        choices=("forward", "reencode"),
        help=with_env(
            "forward: each side gets the other's encoded video and audio as they came (default); "
            "reencode: decode and re-encode every track, aiortc's plain relay and the media benchmark's "
            "baseline (about 7x the CPU for video)",
            "media_relay",
        ),
    )

    user = commands.add_parser("user", help="manage staff accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_commands.add_parser("add", parents=[common], help="add a staff account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=STAFF_ROLES)
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (default: generate a one-time password, "
        "which must be changed at the first sign-in)",
    )
    user_commands.add_parser(
        "list", parents=[common], help="list the staff accounts (role, created, disabled, password to change)"
    )
    passwd = user_commands.add_parser("passwd", parents=[common], help="set a new password for an account")
    passwd.add_argument("username")
    passwd.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (default: generate a one-time password, "
        "which must be changed at the next sign-in)",
    )
    disable = user_commands.add_parser(
        "disable",
        parents=[common],
        help="stop an account: no sign-in, and its signed-in browsers and API tokens stop working",
    )
    disable.add_argument("username")
    enable = user_commands.add_parser("enable", parents=[common], help="let a disabled account sign in again")
    enable.add_argument("username")

    token = commands.add_parser("token", help="manage API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_commands.add_parser("create", parents=[common], help="print a new API token on stdout")
    create.add_argument("--user", help="the token's owner (default: the first admin)")
    create.add_argument("--label", default="", help="a note saying what the token is for")
    token_list = token_commands.add_parser(
        "list", parents=[common], help="list API tokens: id, owner, label, created (never the secret)"
    )
    token_list.add_argument("--user", help="only this user's tokens")
    revoke = token_commands.add_parser(
        "revoke", parents=[common], help="delete an API token; it stops working"
    )
    # Ids are random URL-safe text and may start with "-": write them after "--" then.
    revoke.add_argument("token_id", help="the id from 'token list' (one starting with '-' goes after '--')")

    commands.add_parser("vision", add_help=False, help="vision tools (see 'repairsight vision --help')")
    records.add_parsers(commands, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    try:
        if args_list[:1] == ["vision"]:
            return vision(args_list[1:])
        parser = build_parser()
        args = parser.parse_args(args_list)
        if args.command == "serve":
            return serve.run(args)
        if args.command in ("export", "purge"):
            return records.run(args)
        return accounts.run(args)  # user, token
    except CliError as exc:
        err(f"repairsight: error: {exc}")
        return 2
