"""Run the golden set through any `answer` function: K runs per case, a small concurrency bound, pass^K.

`answer(case)` returns a Reply (the chat's answer frame or why there is none); the CLI answers over the
WebSocket, a job could answer through the chat-turn machine. References are embedded once per run.
"""

from __future__ import annotations

import statistics
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

from mangaassist.quality.golden import GoldenCase
from mangaassist.quality.scoring import CaseScore, failed_case, score_answer

DEFAULT_THRESHOLD = 0.75  # a run of a case passes when its composite is at least this
DEFAULT_CONCURRENCY = 4


class TextEmbedder(Protocol):
    model_id: str
    dimensions: int

    def embed_query(self, text: str) -> list[float]: ...


@dataclass(frozen=True)
class Reply:
    text: str | None  # None: no answer (error frame, timeout, closed connection)
    error: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def cached(self) -> bool:
        return self.meta.get("cache") not in (None, "miss")

    @property
    def fallback(self) -> bool:
        validation = self.meta.get("validation")
        return isinstance(validation, dict) and validation.get("decision") == "fallback"

    @property
    def model_ids(self) -> list[str]:
        return [str(t["model_id"]) for t in self.meta.get("tiers") or []
                if isinstance(t, dict) and t.get("model_id") and t.get("outcome") == "ok"]


@dataclass(frozen=True)
class CaseResult:
    case: GoldenCase
    runs: list[CaseScore]
    replies: list[Reply]
    threshold: float

    @property
    def score(self) -> float:
        return round(statistics.fmean(r.composite for r in self.runs), 4)

    @property
    def passes(self) -> int:
        return sum(r.composite >= self.threshold for r in self.runs)

    @property
    def passed_all(self) -> bool:  # pass^K for this case
        return self.passes == len(self.runs)

    @property
    def flaky(self) -> bool:
        return 0 < self.passes < len(self.runs)

    def as_dict(self) -> dict[str, Any]:
        last = self.replies[-1]
        worst = min(self.runs, key=lambda r: r.composite)
        return {"id": self.case.id, "task": self.case.task.value, "language": self.case.language,
                "score": self.score, "runs": [r.composite for r in self.runs], "passes": self.passes,
                "parts": {"semantic": worst.semantic, "keywords": worst.keywords, "structure": worst.structure,
                          "language": worst.language_match},
                "problems": worst.problems, "answer": last.text if last.text is not None else None,
                "error": last.error or None, "cached": any(r.cached for r in self.replies),
                "fallback": any(r.fallback for r in self.replies)}


def _mean(values: Iterable[float]) -> float:
    items = list(values)
    return round(statistics.fmean(items), 4) if items else 0.0


@dataclass(frozen=True)
class SuiteRun:
    results: list[CaseResult]
    repeat: int
    threshold: float
    embedding_model: str
    embedding_dimensions: int

    @property
    def overall(self) -> float:
        return _mean(r.score for r in self.results)

    def by(self, key: str) -> dict[str, float]:
        groups: dict[str, list[float]] = defaultdict(list)
        for r in self.results:
            groups[r.case.task.value if key == "task" else r.case.language].append(r.score)
        return {name: _mean(scores) for name, scores in sorted(groups.items())}

    @property
    def pass_k(self) -> float:
        """Share of cases that passed every one of their K runs."""
        return _mean(1.0 if r.passed_all else 0.0 for r in self.results)

    @property
    def model_ids(self) -> list[str]:
        return sorted({m for r in self.results for reply in r.replies for m in reply.model_ids})

    def scores(self) -> dict[str, Any]:
        """The numbers a baseline pins and a comparison reads."""
        return {"overall": self.overall, "per_task": self.by("task"), "per_language": self.by("language"),
                "cases": {r.case.id: r.score for r in self.results}}

    def summary(self) -> dict[str, Any]:
        return {
            **self.scores(),
            "case_count": len(self.results), "repeat": self.repeat, "threshold": self.threshold,
            "pass_rate": _mean(r.passes / len(r.runs) for r in self.results), "pass_k": self.pass_k,
            "flaky": [r.case.id for r in self.results if r.flaky],
            "failing": [r.case.id for r in self.results if r.passes == 0],
            "errors": sum(1 for r in self.results for reply in r.replies if reply.text is None),
            "fallbacks": sum(1 for r in self.results for reply in r.replies if reply.fallback),
            "cached": sum(1 for r in self.results for reply in r.replies if reply.cached),
            "model_ids": self.model_ids,
            "embedding": {"model_id": self.embedding_model, "dimensions": self.embedding_dimensions},
        }


def embed_all(embedder: TextEmbedder, texts: list[str]) -> dict[str, list[float]]:
    """Each distinct text once; in one batch when the embedder can (e5 in-process is ~6x cheaper batched)."""
    unique = list(dict.fromkeys(texts))
    many = getattr(embedder, "embed_many", None)
    vectors = many(unique) if callable(many) else [embedder.embed_query(t) for t in unique]
    return dict(zip(unique, vectors, strict=True))


def run_suite(cases: list[GoldenCase], answer: Callable[[GoldenCase], Reply], embedder: TextEmbedder,
              repeat: int = 1, threshold: float = DEFAULT_THRESHOLD, concurrency: int = DEFAULT_CONCURRENCY,
              progress: Callable[[int, int], None] | None = None) -> SuiteRun:
    """Each case `repeat` times, at most `concurrency` turns at once; then every distinct answer and reference
    is embedded once and each run scored. An embedding failure propagates (a score without the similarity
    would not be comparable); an answer failure scores that run 0."""
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    lock = threading.Lock()
    done = [0]
    total = len(cases) * repeat

    def one(case: GoldenCase) -> Reply:
        try:
            reply = answer(case)
        except Exception as error:  # noqa: BLE001 - any client failure is this run's failure, not the suite's
            reply = Reply(None, f"{type(error).__name__}: {error}")
        with lock:
            done[0] += 1
            if progress:
                progress(done[0], total)
        return reply

    jobs = [case for case in cases for _ in range(repeat)]
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        replies = list(pool.map(one, jobs))
    answered = [r.text for r in replies if r.text is not None and r.text.strip()]
    vectors = embed_all(embedder, [c.reference for c in cases] + answered)

    def scored(case: GoldenCase, reply: Reply) -> CaseScore:
        if reply.text is None or not reply.text.strip():
            return failed_case(case, reply.error or "empty answer")
        return score_answer(case, reply.text, vectors[reply.text], vectors[case.reference])

    results = []
    for n, case in enumerate(cases):
        mine = replies[n * repeat:(n + 1) * repeat]
        results.append(CaseResult(case, [scored(case, r) for r in mine], mine, threshold))
    return SuiteRun(results, repeat, threshold, embedder.model_id, embedder.dimensions)
