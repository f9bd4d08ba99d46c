"""Model latency for the local endpoint: zero by default, fixed per tier, or the seeds' profiles.

The "seed" preset samples a log-normal fitted to each profile's p50 and p99 (seed
000's measured MangaAssist profiles: on-demand Bedrock p50 1,200 / p99 3,500 ms,
provisioned p50 600 / p99 1,400 ms, SageMaker real-time p50 500 / p99 1,200 ms).
"""

from __future__ import annotations

import math
import random
import threading

Z99 = 2.326  # standard normal quantile of 0.99

PRESETS: dict[str, dict[str, tuple[float, float]]] = {
    "zero": {},
    "seed": {"haiku": (1200, 3500), "sonnet": (1200, 3500), "sonnet_provisioned": (600, 1400),
             "sagemaker": (500, 1200)},
}


class LatencySpecError(ValueError):
    pass


class Latency:
    def __init__(self, profiles: dict[str, tuple[float, float]] | None = None, seed: int = 11) -> None:
        self.profiles = dict(profiles or {})
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    @classmethod
    def parse(cls, spec: str | None) -> Latency:
        """"seed", "zero", or TIER=MS[,TIER=MS...] (a fixed delay per tier)."""
        if not spec or spec in PRESETS:
            return cls(PRESETS.get(spec or "zero"))
        profiles = {}
        for part in spec.split(","):
            tier, _, ms = part.partition("=")
            if tier.strip() not in PRESETS["seed"] or not ms.strip().isdigit():
                raise LatencySpecError(f"bad latency {part!r}: expected seed, zero or TIER=MS with TIER in "
                                       f"{', '.join(PRESETS['seed'])}")
            profiles[tier.strip()] = (float(ms), float(ms))
        return cls(profiles)

    def delay_ms(self, tier: str) -> float:
        if tier not in self.profiles:
            return 0.0
        p50, p99 = self.profiles[tier]
        if p99 <= p50:
            return p50
        sigma = math.log(p99 / p50) / Z99
        with self._lock:
            return p50 * math.exp(self._random.gauss(0.0, sigma))
