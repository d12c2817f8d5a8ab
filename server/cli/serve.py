"""``repairsight serve``: check the options, make the first admin, and run the server."""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import functools
import io
import ipaddress
import logging
import logging.config
import os
import socket
import sys
from dataclasses import replace
from pathlib import Path

from procedures import ProcedureLibrary

from ..cluster import ClusterSettings
from ..config import IceServerConfig, Settings
from ..logs import logging_config, set_node
from ..records.accounts import ensure_first_admin
from ..stalls import tune_collector
from .common import CliError, err, first_admin_message, open_database
from .options import ServeOptions, env_name, options_from

WS_MAX_BYTES = 1024 * 1024
# WebSocket pings to every page, and how long its pong may take before the socket is closed.
KEEPALIVE_PING_S = 2.0
KEEPALIVE_TIMEOUT_S = 4.0
DEFAULT_DRAIN_S = 300.0
ICE_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


def ice_servers(options: ServeOptions) -> tuple[IceServerConfig, ...]:
    """``--ice-server`` URLs; the username and credential go to the TURN ones (STUN takes none). With a
    TURN secret (``REPAIRSIGHT_TURN_SECRET``) a TURN server needs neither: each participant gets
    credentials of its own."""
    credential = options.secret("ice_credential")
    rest = options.secret("turn_secret") is not None
    servers = []
    for url in options.ice_servers:
        if not url.startswith(ICE_SCHEMES):
            raise CliError(f"--ice-server {url!r}: must start with one of {', '.join(ICE_SCHEMES)}")
        is_turn = url.startswith(("turn:", "turns:"))
        if is_turn and not rest and not (options.ice_username and credential):
            variable = env_name("ice_credential")
            raise CliError(
                f"--ice-server {url!r} is a TURN server: give --ice-username, and its credential in "
                f"{variable} (or in a file named by {variable}_FILE); or the secret it shares with "
                f"coturn in {env_name('turn_secret')} for short-lived credentials per participant"
            )
        servers.append(
            IceServerConfig(
                url=url,
                username=options.ice_username if is_turn else None,
                credential=credential if is_turn else None,
            )
        )
    return tuple(servers)


def tls_files(options: ServeOptions) -> tuple[Path | None, Path | None]:
    if options.self_signed:
        if options.tls_cert is not None or options.tls_key is not None:
            raise CliError(
                "--self-signed makes its own certificate: give it without --tls-cert and --tls-key"
            )
        from ..tls import make_self_signed

        cert, key = make_self_signed(options.data_dir, [options.host])
        err(f"Using the self-signed certificate {cert}; phones will ask once to accept it.")
        return cert, key
    if (options.tls_cert is None) != (options.tls_key is None):
        raise CliError("give both --tls-cert and --tls-key, or neither")
    for option, path in (("--tls-cert", options.tls_cert), ("--tls-key", options.tls_key)):
        if path is not None and not path.is_file():
            raise CliError(f"{option} {path}: no such file")
    return options.tls_cert, options.tls_key


def media_workers(options: ServeOptions) -> int | None:
    if options.media_workers is not None and not 1 <= options.media_workers <= 64:
        raise CliError(
            f"--media-workers {options.media_workers}: give 1 to 64 (or leave it out: one per core)"
        )
    return options.media_workers


def locales_dir(options: ServeOptions) -> Path | None:
    """``--locales``: a site's message catalogs; it must be a directory, so a typo is not silently ignored."""
    if options.locales is not None and not options.locales.is_dir():
        raise CliError(
            f"--locales {options.locales}: not a directory; give the directory that holds the site's "
            'catalogs (de.json, ...; docs/customer-page.md, "Languages")'
        )
    return options.locales


def procedure_dirs(options: ServeOptions) -> tuple[Path, ...]:
    """``--procedures`` directories; each must exist, so a typo is not a silently empty library."""
    dirs = []
    for path in options.procedures:
        given = str(path)
        if not path.is_dir():
            problem = "is a file, not a directory" if path.exists() else "no such directory"
            raise CliError(f"--procedures {given}: {problem}; give a directory that holds procedure folders")
        dirs.append(path)
    return tuple(dirs)


def cluster_settings(options: ServeOptions) -> ClusterSettings:
    """Several processes as one service: Redis, the lease, draining, the internal port."""
    if not 1 <= options.workers <= 64:
        raise CliError(f"--workers {options.workers}: give 1 to 64")
    if options.workers > 1 and options.redis_url is None:
        raise CliError(
            f"--workers {options.workers} runs {options.workers} server processes, which share live sessions "
            f"through Redis: give --redis-url redis://HOST:6379/0 (or {env_name('redis_url')}), or leave out "
            "--workers to run one process alone"
        )
    if not 0 <= options.internal_port <= 65535:
        raise CliError(f"--internal-port {options.internal_port}: give 0 (any free port) to 65535")
    drain = options.drain_timeout
    if drain is None:
        drain = DEFAULT_DRAIN_S if options.redis_url else 0.0
    try:
        return ClusterSettings(
            redis_url=options.redis_url,
            redis_prefix=options.redis_prefix,
            lease_s=options.lease_seconds,
            drain_timeout_s=drain,
            internal_host=options.internal_host,
            internal_port=options.internal_port,
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None


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

    from ..app import create_app, drain, end_live_sessions, secret_key_for
    from ..serving import DrainingServer, listening_socket

    # A native crash (a codec, OpenCV) then leaves each thread's Python stack in the log; not
    # where stderr is no file (run in-process by a test that captures it).
    with contextlib.suppress(io.UnsupportedOperation, AttributeError, ValueError):
        faulthandler.enable()
    tune_collector()
    options = options_from(args, ServeOptions)
    cluster = cluster_settings(options)
    if options.public_url is not None and not options.public_url.startswith(("http://", "https://")):
        raise CliError(f"--public-url {options.public_url!r}: must start with http:// or https://")
    cert, key = tls_files(options)
    settings = Settings(
        data_dir=options.data_dir,
        database=options.database(),
        host=options.host,
        port=options.port,
        tls_cert=cert,
        tls_key=key,
        ice_servers=ice_servers(options),
        turn_secret=options.secret("turn_secret"),
        secret_key=options.secret("secret_key"),
        public_url=options.public_url.rstrip("/") if options.public_url else None,
        allowed_hosts=options.allowed_hosts,
        media_relay=options.media_relay,
        procedure_dirs=procedure_dirs(options),
        locales_dir=locales_dir(options),
        media_workers=media_workers(options),
        ar_delay_ms=max(0, options.ar_delay_ms),
        cluster=cluster,
    )
    if options.vision_fps is not None:
        settings = replace(settings, vision_fps=options.vision_fps)
    db = open_database(settings)
    password = ensure_first_admin(db)
    if password is not None:
        print(first_admin_message(password), flush=True)
    if options.workers > 1:
        from ..supervisor import run_workers

        secret_key_for(settings)  # made once here, not raced by the workers
        for url in listening_urls("https" if cert else "http", options.host, options.port):
            print(f"RepairSight is at {url} ({options.workers} processes)", flush=True)
        return run_workers(sys.argv[1:], options.workers, options.internal_port)
    try:
        sockets = [listening_socket(options.host, options.port, reuse_port=options.reuse_port)]
        if cluster.clustered:
            sockets.append(listening_socket(cluster.internal_host, cluster.internal_port))
            cluster = replace(
                cluster, internal_port=sockets[-1].getsockname()[1], internal_scheme=scheme_of(cert)
            )
            settings = replace(settings, cluster=cluster)
    except OSError as exc:
        raise CliError(str(exc.strerror or exc)) from None
    scheme = "https" if cert else "http"
    if cert is None and options.host not in ("127.0.0.1", "localhost", "::1"):
        err(
            "Warning: serving plain HTTP on a network address. Phones will refuse the camera on plain "
            "HTTP; use --self-signed (or --tls-cert/--tls-key) for phones on your network."
        )
    for url in listening_urls(scheme, options.host, options.port):
        print(f"RepairSight is at {url}", flush=True)
    log_config = logging_config(options.log_format)
    logging.config.dictConfig(log_config)
    set_node(f"{socket.gethostname()}:{os.getpid()}")
    procedures = ProcedureLibrary.with_builtin(settings.procedure_dirs)
    report_procedures(procedures)
    app = create_app(settings, db, procedures)
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        ssl_certfile=str(cert) if cert else None,
        ssl_keyfile=str(key) if key else None,
        # uvicorn 0.54 deprecates the legacy "websockets" protocol; the sans-I/O one is its successor.
        ws="websockets-sansio",
        ws_max_size=WS_MAX_BYTES,
        # A page whose network is gone does not close its socket: a ping it cannot answer does, so
        # the other side sees it "reconnecting" within seconds (docs/protocol.md, "Reconnecting").
        ws_ping_interval=KEEPALIVE_PING_S,
        ws_ping_timeout=KEEPALIVE_TIMEOUT_S,
        log_level="info",
        log_config=log_config,
    )
    server = DrainingServer(config, functools.partial(drain, app), functools.partial(end_live_sessions, app))
    server.run(sockets=sockets)
    return 0


def scheme_of(cert: Path | None) -> str:
    return "https" if cert else "http"
