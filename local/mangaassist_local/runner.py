"""The whole local stack in one process tree: AWS APIs, model endpoint, gateway, pollers, Redis."""

from __future__ import annotations

from dataclasses import dataclass, field

from mangaassist_local.faults import Fault, FaultPlan
from mangaassist_local.gateway import Gateway
from mangaassist_local.latency import Latency
from mangaassist_local.pollers import SqsPollers
from mangaassist_local.process_runtime import BuildLayout, ProcessRuntime
from mangaassist_local.process_tuning import quiet_garbage_collector, responsive_threads
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
    responsive_threads()
    stack.ready = True
    return stack
