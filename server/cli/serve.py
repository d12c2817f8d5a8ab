"""``repairsight serve``: check the options, make the first admin, and run the server."""

from __future__ import annotations

import argparse
import ipaddress
import logging
from pathlib import Path

from procedures import ProcedureLibrary

from ..config import IceServerConfig, Settings
from ..records.accounts import ensure_first_admin
from .common import CliError, data_dir_of, err, first_admin_message, open_database

WS_MAX_BYTES = 1024 * 1024
ICE_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


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
        from ..tls import make_self_signed

        cert, key = make_self_signed(data_dir, [args.host])
        err(f"Using the self-signed certificate {cert}; phones will ask once to accept it.")
        return cert, key
    if (args.tls_cert is None) != (args.tls_key is None):
        raise CliError("give both --tls-cert and --tls-key, or neither")
    for option, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if path is not None and not Path(path).is_file():
            raise CliError(f"{option} {path}: no such file")
    return (Path(args.tls_cert) if args.tls_cert else None, Path(args.tls_key) if args.tls_key else None)


def media_workers(args: argparse.Namespace) -> int | None:
    if args.media_workers is not None and not 1 <= args.media_workers <= 64:
        raise CliError(f"--media-workers {args.media_workers}: give 1 to 64 (or leave it out: one per core)")
    return args.media_workers


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
        from ..tls import local_names

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


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from ..app import create_app

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
        media_workers=media_workers(args),
        ar_delay_ms=max(0, args.ar_delay_ms),
    )
    db = open_database(settings)
    password = ensure_first_admin(db)
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
    procedures = ProcedureLibrary.with_builtin(settings.procedure_dirs)
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
