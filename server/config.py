"""Server settings: one frozen object built by the CLI (or a test) and handed to ``create_app``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .cluster.settings import ClusterSettings

DEFAULT_DATA_DIR = Path("./repairsight-data")


@dataclass(frozen=True)
class IceServerConfig:
    """One STUN/TURN server, given to aiortc and to the pages alike."""

    url: str
    username: str | None = None
    credential: str | None = None


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    # The database's URL (``--database-url``, e.g. ``postgresql+psycopg://rs@db.example.org/repairsight``);
    # None: the SQLite file in ``data_dir`` (``database_url``).
    database: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    # None: plain HTTP. Set both for HTTPS (``--tls-cert/--tls-key`` or ``--self-signed``).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    ice_servers: tuple[IceServerConfig, ...] = ()
    # The secret shared with coturn (``use-auth-secret``): TURN servers given without a username get
    # short-lived credentials per participant (``server/live/turn.py``). From the environment only.
    turn_secret: str | None = None
    # How long a customer link stays valid after the session is created.
    link_ttl_s: int = 24 * 3600
    # How long a dropped participant is shown as "reconnecting" before "left": a phone network may
    # drop for a minute (a tunnel, Wi-Fi to mobile data) and the page then needs a moment to rejoin.
    reconnect_grace_s: float = 75.0
    # How long a session with nobody connected stays open before it is ended.
    idle_end_s: float = 600.0
    # A customer whose video has not reached the server this long after joining: the expert is told.
    media_arrival_s: float = 15.0
    # The cookie-signing key (``$REPAIRSIGHT_SECRET_KEY`` or its file); None: one kept in the data
    # directory. Every process of one service must share it. Tests use a fixed one.
    secret_key: str | None = None
    # "forward": each side gets the other's encoded media as it came (the product).
    # "reencode": decode and re-encode every track, aiortc's plain relay; only the benchmark's baseline.
    media_relay: Literal["forward", "reencode"] = "forward"
    # Public base URL for customer links (e.g. behind a proxy); default: the request's own, whose
    # Host is one of the server's names (``allowed_hosts``).
    public_url: str | None = None
    # Host names a request may name besides the server's own (``server/web/hosts.py``: the public
    # URL's, the listening address, loopback); ``*.example.org`` or ``*`` allowed. None: no Host
    # check at all (an app embedded behind something that checks, in-process tests); ``serve``
    # always checks.
    allowed_hosts: tuple[str, ...] | None = None
    # Directories of procedure folders loaded beside the built-in procedures/library (--procedures).
    procedure_dirs: tuple[Path, ...] = ()
    # A directory of message catalogs (``de.json``…) over the built-in client_web/locales (--locales).
    locales_dir: Path | None = None
    # Media worker processes (decoding for vision, vision, burn-in); None: one per core.
    media_workers: int | None = None
    # Frames a second vision locates the device on, and of those, looks for hands on during a touch
    # step (None: every frame). The pages carry the overlay between them (docs/vision.md, "Pace").
    vision_fps: float | None = 10.0
    hands_fps: float | None = 5.0
    # Vision works on a copy of the phone's frame no wider than this (None: the frame's own size).
    vision_width_px: int | None = 640
    # Tests and measurements only: hold each AR state this long before sending it, as a slow
    # network's round trip would (``serve --ar-delay-ms``).
    ar_delay_ms: int = 0
    # Several processes as one service (Redis, the session lease, draining, the internal port);
    # the default: this process alone.
    cluster: ClusterSettings = ClusterSettings()

    @property
    def database_path(self) -> Path:
        return self.data_dir / "repairsight.sqlite3"

    @property
    def recordings_dir(self) -> Path:
        return self.data_dir / "recordings"

    @property
    def database_url(self) -> str:
        return self.database or f"sqlite:///{self.database_path.resolve()}"


def check_host_pattern(pattern: str) -> str:
    """``pattern`` in lower case; a ``*`` anywhere but a leading ``*.`` (or alone) is a ValueError."""
    pattern = pattern.strip().lower()
    wildcard_ok = pattern == "*" or (pattern.startswith("*.") and "*" not in pattern[1:])
    if not pattern or ("*" in pattern and not wildcard_ok):
        raise ValueError(
            f"{pattern!r} is not a host pattern: give a name (help.example.org), *.example.org or *"
        )
    return pattern
