"""The ``repairsight`` command: run the server, add users, make API tokens, run vision tools.

Every subcommand works on a fresh data directory (the database is made on first use), so
``repairsight user add`` or ``token create`` can run before the server has ever started.
``token create`` prints the token alone on stdout (messages go to stderr), so scripts can
write ``TOKEN=$(repairsight token create)``.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import auth
from .config import DEFAULT_DATA_DIR, IceServerConfig, Settings
from .db import Database

if TYPE_CHECKING:
    from procedures import ProcedureLibrary

DATA_DIR_ENV = "REPAIRSIGHT_DATA_DIR"
WS_MAX_BYTES = 1024 * 1024
ICE_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


class CliError(Exception):
    """A mistake in the command line or its input; printed as one line, exit status 2."""


def data_dir_of(args: argparse.Namespace) -> Path:
    if args.data_dir is not None:
        return Path(args.data_dir)
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def open_database(data_dir: Path) -> Database:
    data_dir.mkdir(parents=True, exist_ok=True)
    return Database(Settings(data_dir=data_dir).database_url)


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def first_admin_message(password: str) -> str:
    return (
        f"Created the first admin account: username {auth.FIRST_ADMIN_USERNAME}, "
        f"one-time password {password} (shown only this once)"
    )


# --- serve ----------------------------------------------------------------------------------


def ice_servers(args: argparse.Namespace) -> tuple[IceServerConfig, ...]:
    """``--ice-server`` URLs; the username and credential go to the TURN ones (STUN takes none)."""
    servers = []
    for url in args.ice_server:
        if not url.startswith(ICE_SCHEMES):
            raise CliError(f"--ice-server {url!r}: must start with one of {', '.join(ICE_SCHEMES)}")
        is_turn = url.startswith(("turn:", "turns:"))
        if is_turn and not (args.ice_username and args.ice_credential):
            raise CliError(f"--ice-server {url!r} is a TURN server: give --ice-username and --ice-credential")
        servers.append(
            IceServerConfig(
                url=url,
                username=args.ice_username if is_turn else None,
                credential=args.ice_credential if is_turn else None,
            )
        )
    return tuple(servers)


def tls_files(args: argparse.Namespace, data_dir: Path) -> tuple[Path | None, Path | None]:
    if args.self_signed:
        from .tls import make_self_signed

        cert, key = make_self_signed(data_dir, [args.host])
        err(f"Using the self-signed certificate {cert}; phones will ask once to accept it.")
        return cert, key
    if (args.tls_cert is None) != (args.tls_key is None):
        raise CliError("give both --tls-cert and --tls-key, or neither")
    for option, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if path is not None and not Path(path).is_file():
            raise CliError(f"{option} {path}: no such file")
    return (Path(args.tls_cert) if args.tls_cert else None, Path(args.tls_key) if args.tls_key else None)


def procedure_dirs(args: argparse.Namespace) -> tuple[Path, ...]:
    """``--procedures`` directories; each must exist, so a typo is not a silently empty library."""
    dirs = []
    for given in args.procedures:
        path = Path(given)
        if not path.is_dir():
            problem = "is a file, not a directory" if path.exists() else "no such directory"
            raise CliError(f"--procedures {given}: {problem}; give a directory that holds procedure folders")
        dirs.append(path)
    return tuple(dirs)


def report_procedures(library: ProcedureLibrary) -> None:
    """One line with how many procedures loaded, then one per procedure that did not (the server
    starts anyway: a broken procedure must not take the others down)."""
    err(f"Loaded {len(library)} procedure(s): {', '.join(sorted(library.procedures)) or 'none'}")
    for error in library.errors:
        err(f"Procedure not loaded: {error.path}: {error.message}")


def listening_urls(scheme: str, host: str, port: int) -> list[str]:
    """Where people can open the server; for a wildcard host, this machine's addresses."""
    if host in ("0.0.0.0", "::", ""):
        from .tls import local_names

        hosts = [name for name in local_names() if _is_ip(name) and ":" not in name] or ["127.0.0.1"]
    else:
        hosts = [host]
    return [f"{scheme}://{'[' + h + ']' if ':' in h else h}:{port}/" for h in hosts]


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from procedures import BUILTIN_LIBRARY, ProcedureLibrary

    from .app import create_app

    data_dir = data_dir_of(args)
    if args.public_url is not None and not args.public_url.startswith(("http://", "https://")):
        raise CliError(f"--public-url {args.public_url!r}: must start with http:// or https://")
    cert, key = tls_files(args, data_dir)
    settings = Settings(
        data_dir=data_dir,
        host=args.host,
        port=args.port,
        tls_cert=cert,
        tls_key=key,
        ice_servers=ice_servers(args),
        public_url=args.public_url.rstrip("/") if args.public_url else None,
        media_relay=args.media_relay,
        procedure_dirs=procedure_dirs(args),
    )
    db = open_database(data_dir)
    password = auth.ensure_first_admin(db)
    if password is not None:
        print(first_admin_message(password), flush=True)
    scheme = "https" if cert else "http"
    if cert is None and args.host not in ("127.0.0.1", "localhost", "::1"):
        err(
            "Warning: serving plain HTTP on a network address. Phones will refuse the camera on plain "
            "HTTP; use --self-signed (or --tls-cert/--tls-key) for phones on your network."
        )
    for url in listening_urls(scheme, args.host, args.port):
        print(f"RepairSight is at {url}", flush=True)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    procedures = ProcedureLibrary.load([BUILTIN_LIBRARY, *settings.procedure_dirs])
    report_procedures(procedures)
    config = uvicorn.Config(
        create_app(settings, db, procedures),
        host=args.host,
        port=args.port,
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
        # uvicorn 0.54 deprecates the legacy "websockets" protocol; the sans-I/O one is its successor.
        ws="websockets-sansio",
        ws_max_size=WS_MAX_BYTES,
        log_level="info",
    )
    uvicorn.Server(config).run()
    return 0


# --- users and tokens ---------------------------------------------------------------------------


def user_add(args: argparse.Namespace) -> int:
    db = open_database(data_dir_of(args))
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise CliError("--password-stdin: read an empty password; pipe the password in, one line")
        generated = False
    else:
        password = auth.generate_password()
        generated = True
    try:
        auth.create_user(db, args.username, args.role, password)
    except ValueError as exc:  # UsernameTaken is a ValueError too
        raise CliError(str(exc)) from None
    print(f"Created {args.role} {args.username!r}.")
    if generated:
        print(f"One-time password: {password} (shown only this once)")
    return 0


def token_create(args: argparse.Namespace) -> int:
    db = open_database(data_dir_of(args))
    if args.user is not None:
        user = auth.find_user(db, args.user)
        if user is None:
            raise CliError(f"no user named {args.user!r}; add one with 'repairsight user add'")
    else:
        password = auth.ensure_first_admin(db)
        if password is not None:
            err(first_admin_message(password))
        user = auth.first_admin(db)
        if user is None:
            raise CliError("there is no admin account; name the token's owner with --user USERNAME")
    token = auth.create_api_token(db, user, args.label)
    err(f"Created an API token for {user.username!r} ({user.role}); send it as 'Authorization: Bearer ...'")
    print(token, flush=True)
    return 0


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


# --- the parser ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        help=f"where the database and recordings live (default: ${DATA_DIR_ENV} or {DEFAULT_DATA_DIR})",
    )
    parser = argparse.ArgumentParser(prog="repairsight", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("serve", parents=[common], help="run the server")
    run.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    run.add_argument("--port", type=int, default=8080)
    tls = run.add_mutually_exclusive_group()
    tls.add_argument("--tls-cert", help="PEM certificate file (with --tls-key)")
    tls.add_argument("--self-signed", action="store_true", help="make (or reuse) a self-signed certificate")
    run.add_argument("--tls-key", help="PEM private key file (with --tls-cert)")
    run.add_argument(
        "--ice-server",
        action="append",
        default=[],
        metavar="URL",
        help="a STUN or TURN server, e.g. stun:stun.example.org:3478 (repeatable)",
    )
    run.add_argument("--ice-username", help="username for the TURN servers")
    run.add_argument("--ice-credential", help="credential for the TURN servers")
    run.add_argument("--public-url", help="base URL for customer links, e.g. behind a proxy")
    run.add_argument(
        "--procedures",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory of procedure folders to load beside the built-in ones (repeatable; see "
        "docs/procedures.md)",
    )
    run.add_argument(
        "--media-relay",
        choices=("forward", "reencode"),
        default="forward",
        help="forward: each side gets the other's encoded video and audio as they came (default); "
        "reencode: decode and re-encode every track, aiortc's plain relay and the media benchmark's "
        "baseline (about 7x the CPU for video)",
    )

    user = commands.add_parser("user", help="manage staff accounts")
    user_commands = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = user_commands.add_parser("add", parents=[common], help="add a staff account")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=auth.STAFF_ROLES)
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of stdin (default: generate one)",
    )

    token = commands.add_parser("token", help="manage API tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = token_commands.add_parser("create", parents=[common], help="print a new API token on stdout")
    create.add_argument("--user", help="the token's owner (default: the first admin)")
    create.add_argument("--label", default="", help="a note saying what the token is for")

    commands.add_parser("vision", add_help=False, help="vision tools (see 'repairsight vision --help')")
    from . import cli_records

    cli_records.add_parsers(commands, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else list(argv)
    try:
        if args_list[:1] == ["vision"]:
            return vision(args_list[1:])
        parser = build_parser()
        args = parser.parse_args(args_list)
        if args.command == "serve":
            if args.tls_key and args.self_signed:
                parser.error("--tls-key goes with --tls-cert, not with --self-signed")
            return serve(args)
        if args.command == "user":
            return user_add(args)
        if args.command in ("export", "purge"):
            from . import cli_records

            return cli_records.run(args)
        return token_create(args)
    except CliError as exc:
        err(f"repairsight: error: {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
