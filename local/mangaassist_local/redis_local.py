"""Redis for the local stack: REDIS_URL if set, else a redis-server from PATH on a free port, else none."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalRedis:
    url: str  # "" when the stack runs with the in-process cache
    source: str  # "REDIS_URL", "redis-server", or "in-process"
    process: subprocess.Popen[bytes] | None = None

    def describe(self) -> str:
        if self.source == "in-process":
            return "in-process cache (no REDIS_URL and no redis-server on PATH)"
        return f"{self.url} ({self.source})"

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)


def _wait_ready(port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return True
        except OSError:
            time.sleep(0.05)
    return False


def start_redis() -> LocalRedis:
    if url := os.environ.get("REDIS_URL"):
        return LocalRedis(url=url, source="REDIS_URL")
    binary = shutil.which("redis-server")
    if binary is None:
        return LocalRedis(url="", source="in-process")
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="mangaassist-redis-")
    process = subprocess.Popen(  # noqa: S603 - a fixed binary from PATH with fixed arguments
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    if not _wait_ready(port, time.monotonic() + 5):
        process.terminate()
        return LocalRedis(url="", source="in-process")
    return LocalRedis(url=f"redis://127.0.0.1:{port}/0", source="redis-server", process=process)
