"""Fault and latency injection for the local model endpoint.

Syntax (CLI `--fault`, variable MANGAASSIST_FAULTS, comma-separated):
TARGET=KIND[@RATE] with TARGET in haiku, sonnet, sagemaker, embeddings and KIND in
throttle, error, timeout, slow:MS, or pii (the answer comes back leaking an e-mail
address and a phone number, to exercise the validator); RATE is a probability in 0..1
(default 1).
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass

TARGETS = ("haiku", "sonnet", "sagemaker", "embeddings")
_SPEC = re.compile(r"^(?P<target>[a-z]+)=(?P<kind>throttle|error|timeout|pii|slow:(?P<ms>\d+))(?:@(?P<rate>[0-9.]+))?$")


class FaultSpecError(ValueError):
    pass


@dataclass(frozen=True)
class Fault:
    target: str
    kind: str  # throttle | error | timeout | slow
    rate: float = 1.0
    delay_ms: int = 0

    def __str__(self) -> str:
        kind = f"slow:{self.delay_ms}" if self.kind == "slow" else self.kind
        return f"{self.target}={kind}@{self.rate:g}"


def parse_fault(spec: str) -> Fault:
    match = _SPEC.match(spec.strip())
    if not match:
        raise FaultSpecError(f"bad fault {spec!r}: expected TARGET=throttle|error|timeout|pii|slow:MS[@RATE]")
    target = match["target"]
    if target not in TARGETS:
        raise FaultSpecError(f"bad fault target {target!r}: expected one of {', '.join(TARGETS)}")
    rate = float(match["rate"]) if match["rate"] else 1.0
    if not 0.0 <= rate <= 1.0:
        raise FaultSpecError(f"bad fault rate {rate}: expected 0..1")
    kind = "slow" if match["ms"] else match["kind"]
    return Fault(target=target, kind=kind, rate=rate, delay_ms=int(match["ms"] or 0))


def parse_faults(specs: list[str] | str | None) -> list[Fault]:
    if not specs:
        return []
    if isinstance(specs, str):
        specs = [part for part in specs.split(",") if part.strip()]
    return [parse_fault(spec) for spec in specs]


class FaultPlan:
    """The faults in force; thread-safe, replaceable at run time (tests flip them)."""

    def __init__(self, faults: list[Fault] | None = None, seed: int = 7) -> None:
        self._faults = list(faults or [])
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def set(self, faults: list[Fault]) -> None:
        with self._lock:
            self._faults = list(faults)

    @property
    def faults(self) -> list[Fault]:
        return list(self._faults)

    def draw(self, target: str) -> tuple[str | None, int]:
        """(failure kind or None, extra delay in ms) for one call to `target`."""
        failure, delay = None, 0
        with self._lock:
            for fault in self._faults:
                if fault.target != target or self._random.random() >= fault.rate:
                    continue
                if fault.kind == "slow":
                    delay += fault.delay_ms
                elif failure is None:
                    failure = fault.kind
        return failure, delay
