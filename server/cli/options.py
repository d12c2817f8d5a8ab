"""What a command is told: each option from its flag, else from its ``REPAIRSIGHT_*`` variable, and
secrets only from the environment or a file.

Every option of ``repairsight serve``, and the data directory and database of every command, also
reads an environment variable named after it (``--database-url``: ``REPAIRSIGHT_DATABASE_URL``,
``--media-workers``: ``REPAIRSIGHT_MEDIA_WORKERS``); a flag on the command line wins over its
variable. pydantic-settings reads them (values given > environment > defaults), so each option's
type and default are written once, here; the flags (``cli/__init__.py``) default to "not given".

Secrets never come from the command line, where any user of the machine can read a process's
arguments: the cookie-signing key, the TURN credential and the database password are read from
``REPAIRSIGHT_<NAME>`` or from the file named by ``REPAIRSIGHT_<NAME>_FILE`` (a Docker secret or a
systemd credential, say).
"""

from __future__ import annotations

import argparse
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ..config import DEFAULT_DATA_DIR, Settings, check_host_pattern
from .common import CliError

ENV_PREFIX = "REPAIRSIGHT_"
# Options whose flag is not ``--`` + the field's name with dashes.
FLAGS = {"ice_servers": "--ice-server"}


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def flag_of(field: str) -> str:
    return FLAGS.get(field, "--" + field.replace("_", "-"))


def with_env(help_text: str, field: str) -> str:
    """A flag's help, naming the variable it also reads (argparse's ``%`` escaped)."""
    return f"{help_text} [${env_name(field)}]".replace("%", "%%")


class _Options(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, env_ignore_empty=True, extra="ignore")

    def secret(self, field: str) -> str | None:
        """The secret ``field`` from its variable or from the file its ``_FILE`` variable names."""
        value: SecretStr | None = getattr(self, field)
        path: Path | None = getattr(self, f"{field}_file")
        variable = env_name(field)
        if value is not None and path is not None:
            raise CliError(f"both {variable} and {variable}_FILE are set; keep one")
        if path is None:
            return value.get_secret_value() if value is not None else None
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CliError(f"{variable}_FILE {path}: cannot read it ({exc.strerror or exc})") from None
        if not text:
            raise CliError(f"{variable}_FILE {path}: the file is empty")
        return text


class StorageOptions(_Options):
    """Where a command's data lives: what every command takes."""

    data_dir: Path = DEFAULT_DATA_DIR
    # None: the SQLite file in the data directory.
    database_url: str | None = None
    database_password: SecretStr | None = None
    database_password_file: Path | None = None

    def database(self) -> str | None:
        """The database URL with its password (from the environment or a file) put in."""
        password = self.secret("database_password")
        if password is None:
            return self.database_url
        if self.database_url is None:
            raise CliError(
                f"{env_name('database_password')} is set, but no --database-url (or "
                f"{env_name('database_url')}) says which database it is for; the SQLite default takes none"
            )
        try:
            url = make_url(self.database_url)
        except ArgumentError:
            return self.database_url  # ``Database`` says what is wrong with it
        return url.set(password=password).render_as_string(hide_password=False)


def _split(value: Any, separator: str) -> Any:
    if isinstance(value, str):
        return tuple(part for part in re.split(separator, value) if part.strip())
    return value


class ServeOptions(StorageOptions):
    """``repairsight serve``: one field per flag (and the secrets, which have none)."""

    host: str = "127.0.0.1"
    port: int = 8080
    tls_cert: Path | None = None
    tls_key: Path | None = None
    self_signed: bool = False
    # In a variable: comma-separated URLs.
    ice_servers: Annotated[tuple[str, ...], NoDecode] = ()
    ice_username: str | None = None
    ice_credential: SecretStr | None = None
    ice_credential_file: Path | None = None
    turn_secret: SecretStr | None = None
    turn_secret_file: Path | None = None
    public_url: str | None = None
    # Comma-separated, in the flag as in the variable (``server/web/hosts.py``).
    allowed_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    # In a variable: directories separated as in PATH (``:``).
    procedures: Annotated[tuple[Path, ...], NoDecode] = ()
    locales: Path | None = None
    media_workers: int | None = None
    media_relay: Literal["forward", "reencode"] = "forward"
    log_format: Literal["text", "json"] = "text"
    ar_delay_ms: int = 0
    # Frames a second vision locates the device on (None: Settings' default; docs/vision.md, "Pace").
    vision_fps: Annotated[float, Field(ge=1, le=30)] | None = None
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None
    # Several processes as one service (docs/deploy.md).
    workers: int = 1
    redis_url: str | None = None
    redis_prefix: str = "repairsight"
    lease_seconds: float = 10.0
    drain_timeout: float | None = None
    internal_host: str = "127.0.0.1"
    internal_port: int = 0
    reuse_port: bool = False

    @field_validator("ice_servers", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _split(value, r"[,\s]+")

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _host_patterns(cls, value: Any) -> Any:
        return tuple(check_host_pattern(host) for host in _split(value, r"[,\s]+"))

    @field_validator("procedures", mode="before")
    @classmethod
    def _path_separated(cls, value: Any) -> Any:
        return _split(value, re.escape(os.pathsep))


Options = TypeVar("Options", bound=_Options)


def options_from(args: argparse.Namespace, kind: type[Options]) -> Options:
    """``kind`` from the flags given in ``args`` (those not given are None) over the environment."""
    given = {
        name: value for name, value in vars(args).items() if name in kind.model_fields and value is not None
    }
    url = given.get("database_url")
    if url is not None:
        try:
            has_password = make_url(url).password is not None
        except ArgumentError:
            has_password = False
        if has_password:
            raise CliError(
                "--database-url holds a password, which the command line shows to every user of this "
                f"machine; put the password in {env_name('database_password')} (or a file named by "
                f"{env_name('database_password_file')}), or the whole URL in {env_name('database_url')}"
            )
    try:
        return kind(**given)
    except ValidationError as exc:
        raise CliError(_first_problem(exc, given)) from None


def _first_problem(exc: ValidationError, given: dict[str, Any]) -> str:
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    if field in given:
        where = f"{flag_of(field)} {given[field]!r}"
    else:
        where = f"${env_name(field)} {os.environ.get(env_name(field), '')!r}"
    return f"{where}: {error['msg']}"


class SecretFlag(argparse.Action):
    """A flag that once took a secret on the command line: says where the secret goes now."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=1, help=argparse.SUPPRESS)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        variable = env_name(self.dest)
        raise CliError(
            f"{option_string}: secrets are not taken on the command line, where every user of this machine "
            f"can read them; set {variable}, or write it to a file and set {variable}_FILE to its path"
        )


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings a record command works with: the data directory and the database."""
    options = options_from(args, StorageOptions)
    return Settings(data_dir=options.data_dir, database=options.database())
