"""Server processes of one service, as a care centre runs them: one PostgreSQL database, one Redis
(under a key prefix of the test's own) and one recordings folder (a shared data directory)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import httpx
import redis

from tests.server_process import ServerProcess, add_user, cli, start_server

REDIS_URL = "redis://127.0.0.1:6379/0"


def new_prefix() -> str:
    return f"rs-test-{secrets.token_hex(4)}"


class Service:
    """Server processes sharing ``database_url``, a Redis prefix and ``tmp_path/data``."""

    def __init__(self, tmp_path: Path, database_url: str, lease_s: float = 3.0) -> None:
        self.data_dir = tmp_path / "data"
        self.database_url = database_url
        self.lease_s = lease_s
        self.prefix = new_prefix()
        self.api_token = self.cli("token", "create").strip()
        self.processes: list[ServerProcess] = []
        self.redis = redis.Redis.from_url(REDIS_URL, decode_responses=True)

    def cli(self, *args: str) -> str:
        return cli(self.data_dir, *args, "--database-url", self.database_url)

    def add_user(self, username: str, role: str, password: str) -> None:
        add_user(self.data_dir, username, role, password, "--database-url", self.database_url)

    def start(self, *extra: str, port: int | None = None) -> ServerProcess:
        args = (
            "--database-url",
            self.database_url,
            "--redis-url",
            REDIS_URL,
            "--redis-prefix",
            self.prefix,
            "--lease-seconds",
            str(self.lease_s),
            *extra,
        )
        process = start_server(self.data_dir, port=port, extra_args=args)
        self.processes.append(process)
        return process

    def owner_pid(self, session_id: str) -> int:
        owner = self.redis.get(f"{self.prefix}:session:{session_id}:owner")
        assert owner is not None, f"session {session_id} has no owner"
        raw = self.redis.get(f"{self.prefix}:node:{owner}")
        assert raw is not None, f"the owner {owner} of {session_id} has no heartbeat"
        return int(json.loads(str(raw))["pid"])

    def nodes(self) -> list[dict[str, Any]]:
        ids = sorted(self.redis.smembers(f"{self.prefix}:nodes"))  # type: ignore[arg-type]
        raws = [self.redis.get(f"{self.prefix}:node:{i}") for i in ids]
        return [json.loads(str(r)) for r in raws if r is not None]

    def api(self, process: ServerProcess) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_token}"}
        return httpx.Client(base_url=process.base_url, headers=headers, timeout=30)

    def close(self) -> None:
        for process in self.processes:
            process.stop()
        keys = list(self.redis.scan_iter(match=f"{self.prefix}:*"))
        if keys:
            self.redis.delete(*keys)
        self.redis.close()
