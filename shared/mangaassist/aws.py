"""boto3 clients, created once per process and sized to the 3 s turn budget.

Endpoints come from the standard AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>
variables, so the same code talks to AWS or to the local stack.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Data-plane calls inside a turn: fail fast, let the state machine retry.
FAST = Config(connect_timeout=1, read_timeout=2, retries={"mode": "adaptive", "max_attempts": 2})
# Model calls: no SDK retries. The state machine retries throttling once with jittered backoff and
# then falls down the tier chain; SDK retries on top would multiply attempts past the 3 s budget,
# and adaptive mode's client-side rate limiter would slow the fallback tier after the first is throttled.
MODEL = Config(connect_timeout=1, read_timeout=8, retries={"mode": "standard", "max_attempts": 1})
# StartSyncExecution waits for the whole turn. inject_host_prefix=False keeps the
# "sync-" host prefix off custom endpoints (it is harmless on AWS's own endpoint).
SYNC = Config(connect_timeout=2, read_timeout=30, retries={"mode": "standard", "max_attempts": 1},
              inject_host_prefix=False)


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "ap-northeast-1"


@cache
def client(service: str, config: Config = FAST) -> Any:
    return boto3.client(service, region_name=region(), config=config)


@cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", region_name=region(), config=FAST).Table(name)


def env(name: str, default: str | None = None) -> str:
    """A required setting from the function's environment, with a clear error when absent."""
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"environment variable {name} is not set (see template.yaml Globals)")
    return value


@cache
def client_for_endpoint(service: str, endpoint_url: str, config: Config = FAST) -> Any:
    """A client for an endpoint known only at run time (the WebSocket API's @connections URL)."""
    return boto3.client(service, region_name=region(), endpoint_url=endpoint_url, config=config)
