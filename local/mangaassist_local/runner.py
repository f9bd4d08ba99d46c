"""The whole local stack in one process tree: AWS APIs, model endpoint, gateway, pollers, Redis."""

from __future__ import annotations

import gc
from dataclasses import dataclass, field

from mangaassist_local.faults import Fault, FaultPlan
from mangaassist_local.gateway import Gateway
from mangaassist_local.latency import Latency
from mangaassist_local.pollers import SqsPollers
from mangaassist_local.process_runtime import BuildLayout, ProcessRuntime
from mangaassist_local.redis_local import LocalRedis, start_redis
from mangaassist_local.stack import LocalAws, start_local_aws


@dataclass
class LocalStack:
    aws: LocalAws
    gateway: Gateway
    pollers: SqsPollers
    redis: LocalRedis
    ready: bool = field(default=False)

    def stop(self) -> None:
        self.ready = False
        self.pollers.stop()
        self.gateway.stop()
        self.aws.stop()
        self.redis.stop()


def start_stack(port: int = 0, aws_port: int = 0, faults: list[Fault] | None = None,
                latency: Latency | None = None, build: BuildLayout | None = None, processes: bool = False,
                warm: bool = False, overrides: dict[str, str] | None = None) -> LocalStack:
    """The whole stack; with `build`, the functions run from a `sam build` output (see mangaassist_local.build),
    with `processes` from the source tree, each in Lambda-like worker processes; `warm` starts one environment
    per function before serving."""
    redis = start_redis()
    aws = start_local_aws(port=aws_port, faults=FaultPlan(faults), latency=latency, redis_url=redis.url,
                          build=build, processes=processes, overrides=overrides)
    holder: dict[str, LocalStack] = {}
    gateway = Gateway(aws.runtime, aws.template, port=port, ready=lambda: "stack" in holder and holder["stack"].ready)
    gateway.start()
    # Warm after the gateway started: an environment reads the gateway's @connections endpoint and token issuer
    # (set in os.environ by start()) when it starts; /health says "starting" until then.
    if warm and isinstance(aws.runtime, ProcessRuntime):
        aws.runtime.warm()
    pollers = SqsPollers(aws.runtime, aws.template, aws.endpoint)
    pollers.start()
    stack = LocalStack(aws=aws, gateway=gateway, pollers=pollers, redis=redis)
    holder["stack"] = stack
    quiet_garbage_collector()
    stack.ready = True
    return stack


# Collections: the youngest every this many allocations (Python's default 700), the middle every 50 of those, the
# oldest every 1,000 middle ones (and, as always, not before the long-lived objects grew by a quarter).
GC_THRESHOLDS = (20_000, 50, 1_000)


def quiet_garbage_collector() -> None:
    """The serve process holds moto's backends, which grow with every turn (DynamoDB items are trees of Python
    objects). Python's collector walked all of them: at 5 turns/s it paused every thread of the process for
    0.4-0.9 s about once a minute, longer as the tables grew, and spent 5-10% of the process's time besides.
    What exists once the stack has started (moto, botocore's models, the catalog) is moved out of the collector's
    reach (gc.freeze), and the young generations are collected less often: cyclic garbage is still collected."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
