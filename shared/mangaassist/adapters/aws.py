"""boto3 clients, created once per process and sized to the 3 s turn budget.

Endpoints come from the standard AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE>
variables, so the same code talks to AWS or to the local stack.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from mangaassist.deadlines import MODEL_CONNECT_SECONDS, MODEL_READ_SECONDS, SEND_MESSAGE_WAIT_SECONDS
from mangaassist.settings import settings

# Data-plane calls inside a turn: fail fast, let the state machine retry.
FAST = Config(connect_timeout=1, read_timeout=2, retries={"mode": "adaptive", "max_attempts": 2})
# Model calls: no SDK retries. The state machine retries throttling once with jittered backoff and
# then falls down the tier chain; SDK retries on top would multiply attempts past the 3 s budget,
# and adaptive mode's client-side rate limiter would slow the fallback tier after the first is throttled.
MODEL = Config(connect_timeout=MODEL_CONNECT_SECONDS, read_timeout=MODEL_READ_SECONDS,
               retries={"mode": "standard", "max_attempts": 1})
# StartSyncExecution waits for the whole turn, no longer than the turn's deadline (mangaassist.deadlines).
SYNC = Config(connect_timeout=2, read_timeout=SEND_MESSAGE_WAIT_SECONDS,
              retries={"mode": "standard", "max_attempts": 1})
# The same against a custom endpoint (see sync_states).
SYNC_CUSTOM_ENDPOINT = SYNC.merge(Config(inject_host_prefix=False))


def region() -> str:
    return settings().region


@cache
def client(service: str, config: Config = FAST) -> Any:
    return boto3.client(service, region_name=region(), config=config)


@cache
def table(name: str) -> Any:
    return boto3.resource("dynamodb", region_name=region(), config=FAST).Table(name)


@cache
def sync_states() -> Any:
    """The Step Functions client for StartSyncExecution.

    AWS serves that operation only at sync-states.<region>.amazonaws.com: botocore adds the "sync-" host
    prefix from the service model when inject_host_prefix is on. A custom endpoint (the local stack,
    AWS_ENDPOINT_URL[_SFN]) has no such host, so the prefix is turned off there and only there.
    """
    s = settings()
    custom_endpoint = bool(s.sfn_endpoint_url or s.endpoint_url)
    return boto3.client("stepfunctions", region_name=region(), config=SYNC_CUSTOM_ENDPOINT if custom_endpoint else SYNC)


@cache
def client_for_endpoint(service: str, endpoint_url: str, config: Config = FAST) -> Any:
    """A client for an endpoint known only at run time (the WebSocket API's @connections URL)."""
    return boto3.client(service, region_name=region(), endpoint_url=endpoint_url, config=config)
