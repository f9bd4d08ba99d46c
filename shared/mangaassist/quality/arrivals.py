"""Arrival schedules for the open-loop load tester: when each turn is sent, fixed before anything is sent.

A pattern is a rate function λ(t) over [0, duration), piecewise linear, so its integral Λ(t) (the expected
number of arrivals by t) and Λ's inverse are exact. Poisson arrivals come from time rescaling: the event times
of a unit-rate Poisson process, mapped through Λ⁻¹, are a Poisson process of rate λ(t). `even` spaces the
arrivals by equal steps of Λ instead (the same shape without the randomness).

The patterns (the seed's versions of ramp and spike are wrong, SPEC §7: these are checked by tests):

- sustained: λ = rate.
- ramp: λ rises linearly from 0 to rate across the WHOLE duration (half the arrivals in the last 29%).
- burst: λ = rate, and `burst_factor` × rate for `burst_length` s every `burst_every` s (SPEC §3: factor 2).
- spike: λ = rate, and `spike_multiplier` × rate (default 10×) for `spike_fraction` of the duration in the
  middle; `ratio_check` says whether the schedule's peak/base ratio is the one asked for.
- mix: sustained arrivals; the messages follow SPEC §3's production mix (see traffic_mix).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_DURATION_S = 3600.0
MAX_RATE = 1000.0


class Pattern(StrEnum):
    SUSTAINED = "sustained"
    RAMP = "ramp"
    BURST = "burst"
    SPIKE = "spike"
    MIX = "mix"


class Process(StrEnum):
    POISSON = "poisson"
    EVEN = "even"


@dataclass(frozen=True)
class Segment:
    """λ goes linearly from `start_rate` at `start` to `end_rate` at `end`."""

    start: float
    end: float
    start_rate: float
    end_rate: float

    @property
    def length(self) -> float:
        return self.end - self.start

    def area(self, upto: float | None = None) -> float:
        """∫λ from `start` to `upto` (default: the whole segment)."""
        x = self.length if upto is None else min(max(upto - self.start, 0.0), self.length)
        slope = (self.end_rate - self.start_rate) / self.length if self.length else 0.0
        return self.start_rate * x + slope * x * x / 2

    def time_at(self, area: float) -> float:
        """The t in the segment where ∫λ from `start` reaches `area` (0 ≤ area ≤ self.area())."""
        slope = (self.end_rate - self.start_rate) / self.length if self.length else 0.0
        if abs(slope) < 1e-12:
            return self.start + (area / self.start_rate if self.start_rate else 0.0)
        # slope/2·x² + r0·x − area = 0, the root in [0, length]
        root = (-self.start_rate + math.sqrt(self.start_rate ** 2 + 2 * slope * area)) / slope
        return self.start + min(max(root, 0.0), self.length)


class LoadShape(BaseModel):
    """What to offer: the pattern and its parameters (turns/s and seconds)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: Pattern = Pattern.SUSTAINED
    rate: float = Field(gt=0, le=MAX_RATE, description="turns/s: the base rate (ramp: the final rate)")
    duration: float = Field(gt=0, le=MAX_DURATION_S, description="seconds")
    spike_multiplier: float = Field(default=10.0, ge=1.0, le=100.0)
    spike_fraction: float = Field(default=0.2, gt=0, lt=1, description="share of the duration the spike lasts")
    burst_factor: float = Field(default=2.0, ge=1.0, le=100.0, description="SPEC §3's burst factor")
    burst_every: float = Field(default=10.0, gt=0, description="seconds from one burst's start to the next")
    burst_length: float = Field(default=2.0, gt=0, description="seconds each burst lasts")

    @model_validator(mode="after")
    def _bursts_fit(self) -> LoadShape:
        if self.pattern is Pattern.BURST and self.burst_length >= self.burst_every:
            raise ValueError(f"burst_length ({self.burst_length:g} s) must be shorter than burst_every "
                             f"({self.burst_every:g} s)")
        return self

    def segments(self) -> list[Segment]:
        t, r = self.duration, self.rate
        if self.pattern is Pattern.RAMP:
            return [Segment(0.0, t, 0.0, r)]
        if self.pattern is Pattern.SPIKE:
            start = t * (1 - self.spike_fraction) / 2
            end = start + t * self.spike_fraction
            peak = r * self.spike_multiplier
            return [Segment(0.0, start, r, r), Segment(start, end, peak, peak), Segment(end, t, r, r)]
        if self.pattern is Pattern.BURST:
            segments, at = [], 0.0
            high = r * self.burst_factor
            while at < t:
                burst_end = min(at + self.burst_length, t)
                segments.append(Segment(at, burst_end, high, high))
                quiet_end = min(at + self.burst_every, t)
                if quiet_end > burst_end:
                    segments.append(Segment(burst_end, quiet_end, r, r))
                at += self.burst_every
            return segments
        return [Segment(0.0, t, r, r)]

    def rate_at(self, t: float) -> float:
        for segment in self.segments():
            if segment.start <= t < segment.end:
                slope = (segment.end_rate - segment.start_rate) / segment.length
                return segment.start_rate + slope * (t - segment.start)
        return 0.0

    def expected_count(self) -> float:
        return sum(segment.area() for segment in self.segments())

    def peak_rate(self) -> float:
        return max(max(s.start_rate, s.end_rate) for s in self.segments())

    def peak_windows(self) -> list[tuple[float, float]]:
        """Where the rate is raised (spike, bursts); empty for the other patterns."""
        if self.pattern not in (Pattern.SPIKE, Pattern.BURST):
            return []
        peak = self.peak_rate()
        return [(s.start, s.end) for s in self.segments() if s.start_rate == peak and s.length > 0]

    def asked_ratio(self) -> float | None:
        return {Pattern.SPIKE: self.spike_multiplier, Pattern.BURST: self.burst_factor}.get(self.pattern)


def schedule(shape: LoadShape, seed: int, process: Process = Process.POISSON) -> list[float]:
    """Arrival offsets in seconds from the start, sorted, all in [0, duration)."""
    segments = shape.segments()
    total = shape.expected_count()
    if process is Process.EVEN:
        count = round(total)
        areas = [(k + 0.5) * total / count for k in range(count)] if count else []
    else:
        rng = random.Random(seed)
        areas, acc = [], rng.expovariate(1.0)
        while acc < total:
            areas.append(acc)
            acc += rng.expovariate(1.0)
    times, done, index = [], 0.0, 0
    for area in areas:  # ascending: walk the segments once
        while index < len(segments) - 1 and area > done + segments[index].area():
            done += segments[index].area()
            index += 1
        times.append(min(segments[index].time_at(area - done), math.nextafter(shape.duration, 0.0)))
    return times


class RatioCheck(BaseModel):
    """Is the peak/base arrival-rate ratio of some arrival times the one asked for?"""

    asked: float
    measured: float | None
    tolerance: float  # relative; three standard errors of a Poisson count ratio, at least 5%
    ok: bool


def ratio_check(shape: LoadShape, times: list[float]) -> RatioCheck | None:
    """For spike and burst: the measured rate inside the peak windows over the rate outside them."""
    asked = shape.asked_ratio()
    windows = shape.peak_windows()
    if asked is None or not windows:
        return None
    peak_time = sum(end - start for start, end in windows)
    base_time = shape.duration - peak_time
    in_peak = sum(1 for t in times if any(start <= t < end for start, end in windows))
    in_base = len(times) - in_peak
    if base_time <= 0 or in_peak == 0 or in_base == 0:
        return RatioCheck(asked=asked, measured=None, tolerance=0.0, ok=False)
    measured = (in_peak / peak_time) / (in_base / base_time)
    tolerance = max(3 * math.sqrt(1 / in_peak + 1 / in_base), 0.05)
    return RatioCheck(asked=asked, measured=round(measured, 3), tolerance=round(tolerance, 3),
                      ok=abs(measured / asked - 1) <= tolerance)
