"""Compare a run with its baseline: relative drops, severities, improvements, the CI verdict.

A drop is relative to the baseline's score: (baseline - current) / baseline. Severities (SPEC §3):
critical above 20%, major from 10% to 20%, minor from 5% below 10%; a drop below 5% is noise. A rise is an
improvement (5% or more) or unchanged, never a regression: the seed took abs(delta), so every improvement
was flagged, and compared absolute deltas with percentage thresholds.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from mangaassist.quality.baseline import Baseline
from mangaassist.quality.golden import GoldenCase

CRITICAL = 0.20
MAJOR = 0.10
MINOR = 0.05
_EPSILON = 1e-9  # 0.8 -> 0.64 is a 20% drop exactly, whatever the floating point says


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    NONE = "none"
    IMPROVEMENT = "improvement"
    NEW = "new"  # a case the baseline does not have
    MISSING = "missing"  # a baseline case this run did not have


REGRESSIONS = (Severity.CRITICAL, Severity.MAJOR, Severity.MINOR)


def relative_drop(baseline: float, current: float) -> float:
    """Positive when the score fell, negative when it rose; relative to the baseline."""
    if baseline <= 0:
        return 0.0 if current <= 0 else -1.0
    return (baseline - current) / baseline


def classify(baseline: float, current: float) -> Severity:
    drop = round(relative_drop(baseline, current), 9)
    if drop > CRITICAL + _EPSILON:
        return Severity.CRITICAL
    if drop >= MAJOR - _EPSILON:
        return Severity.MAJOR
    if drop >= MINOR - _EPSILON:
        return Severity.MINOR
    if drop <= -MINOR + _EPSILON:
        return Severity.IMPROVEMENT
    return Severity.NONE


@dataclass(frozen=True)
class Finding:
    scope: str  # overall | task | language | case
    name: str
    baseline: float | None
    current: float | None
    severity: Severity

    @property
    def drop(self) -> float | None:
        if self.baseline is None or self.current is None:
            return None
        return round(relative_drop(self.baseline, self.current), 4)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "severity": self.severity.value, "relative_drop": self.drop}


def _pair(scope: str, name: str, baseline: float | None, current: float | None) -> Finding:
    if baseline is None:
        return Finding(scope, name, None, current, Severity.NEW)
    if current is None:
        return Finding(scope, name, baseline, None, Severity.MISSING)
    return Finding(scope, name, baseline, current, classify(baseline, current))


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def restrict(baseline: Baseline, subset: list[GoldenCase]) -> dict[str, Any]:
    """The baseline's scores over only these cases (a run of some tasks): its aggregates are means of case
    scores, so they are recomputed exactly from the pinned case scores."""
    pinned = [(c, baseline.cases[c.id]) for c in subset if c.id in baseline.cases]

    def grouped(key: str) -> dict[str, float]:
        names = sorted({getattr(c, key) if key == "language" else c.task.value for c, _ in pinned})
        means = {n: _mean([s for c, s in pinned if (c.language if key == "language" else c.task.value) == n])
                 for n in names}
        return {n: m for n, m in means.items() if m is not None}

    return {"overall": _mean([s for _, s in pinned]), "per_task": grouped("task"),
            "per_language": grouped("language"), "cases": {c.id: s for c, s in pinned}}


def compare(scores: dict[str, Any], baseline: Baseline, subset: list[GoldenCase] | None = None) -> list[Finding]:
    """Every scope: overall, per task, per language and per case (scores as SuiteRun.scores() gives them).
    With `subset` (the run covered only these cases on purpose) the baseline is restricted to them, so the
    cases left out are not reported missing and the aggregates compare like with like."""
    pinned = restrict(baseline, subset) if subset is not None else baseline.model_dump()
    findings = [_pair("overall", "overall", pinned["overall"], scores["overall"])]
    for scope, key in (("task", "per_task"), ("language", "per_language"), ("case", "cases")):
        current = scores[key]
        for name in sorted(set(pinned[key]) | set(current)):
            findings.append(_pair(scope, name, pinned[key].get(name), current.get(name)))
    return findings


def counts(findings: list[Finding]) -> dict[str, int]:
    return {s.value: sum(1 for f in findings if f.severity is s) for s in Severity}


def verdict(findings: list[Finding]) -> str:
    """"fail" on any critical regression at any scope, else "pass"."""
    return "fail" if any(f.severity is Severity.CRITICAL for f in findings) else "pass"
