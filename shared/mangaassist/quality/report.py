"""The regression report (what --json prints and a job stores), the people's table, and the last-run record.

The last-run record is what the SLA optimizer reads for quality: a small JSON object written after every run,
locally to $MANGAASSIST_CACHE/regress/last.json, in the results bucket to quality/last-regression.json.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mangaassist.quality.baseline import Baseline, prompts_version
from mangaassist.quality.regression import REGRESSIONS, Finding, Severity, compare, counts, verdict
from mangaassist.quality.suite import SuiteRun

LAST_RUN_SCHEMA = "mangaassist.regression-last/1"
LAST_RUN_KEY = "quality/last-regression.json"  # in the results bucket


def build_report(run: SuiteRun, baseline: Baseline | None, target: str, commit: str,
                 partial: bool = False) -> dict[str, Any]:
    """`partial`: the run covered only some of the golden cases on purpose (e.g. --task)."""
    summary = run.summary()
    report: dict[str, Any] = {
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "target": target, "commit": commit,
        "prompts_version": prompts_version(), **summary,
        "results": [r.as_dict() for r in run.results],
    }
    if baseline is None:
        report.update(verdict="no baseline", findings=[], severity_counts={})
        return report
    findings = compare(run.scores(), baseline, [r.case for r in run.results] if partial else None)
    report.update(
        verdict=verdict(findings), severity_counts=counts(findings),
        findings=[f.as_dict() for f in findings if f.severity is not Severity.NONE],
        baseline={"created_at": baseline.created_at, "commit": baseline.commit,
                  "prompts_version": baseline.prompts_version, "model_ids": baseline.model_ids,
                  "overall": findings[0].baseline,
                  "per_task": {f.name: f.baseline for f in findings if f.scope == "task" and f.baseline is not None}})
    return report


def last_run_record(report: dict[str, Any]) -> dict[str, Any]:
    """The quality figure for the optimizer: overall score in [0, 1] (SLA: > 0.90), pass^K and the verdict."""
    return {"schema": LAST_RUN_SCHEMA, "generated_at": report["generated_at"], "target": report["target"],
            "commit": report["commit"], "prompts_version": report["prompts_version"],
            "overall": report["overall"], "pass_k": report["pass_k"], "repeat": report["repeat"],
            "case_count": report["case_count"], "per_task": report["per_task"],
            "per_language": report["per_language"], "verdict": report["verdict"],
            "baseline_overall": report.get("baseline", {}).get("overall"),
            "severity_counts": report["severity_counts"]}


def format_report(report: dict[str, Any], verbose: bool = False) -> str:
    findings = [Finding(f["scope"], f["name"], f["baseline"], f["current"], Severity(f["severity"]))
                for f in report["findings"]]
    by_scope = {(f.scope, f.name): f for f in findings}
    lines = [f"{'scope':<10} {'name':<16} {'score':>6} {'base':>6} {'change':>7}  severity"]

    def row(scope: str, name: str, score: float) -> str:
        f = by_scope.get((scope, name))
        base = f"{f.baseline:.3f}" if f and f.baseline is not None else "" if f else "="
        drop = f"{-f.drop:+.1%}" if f and f.drop is not None else ""  # relative to the baseline
        return f"{scope:<10} {name:<16} {score:>6.3f} {base:>6} {drop:>7}  {f.severity.value if f else 'ok'}"

    lines.append(row("overall", "overall", report["overall"]))
    lines += [row("task", name, score) for name, score in report["per_task"].items()]
    lines += [row("language", name, score) for name, score in report["per_language"].items()]
    cases = [f for f in findings if f.scope == "case" and (verbose or f.severity in REGRESSIONS
                                                             or f.severity is Severity.MISSING)]
    if cases:
        lines.append("")
        lines.append("cases:")
        answers = {r["id"]: r for r in report["results"]}
        for f in sorted(cases, key=lambda f: -(f.drop or 0)):
            result = answers.get(f.name, {})
            detail = "; ".join(result.get("problems", [])[:3]) or result.get("error") or ""
            cur = f"{f.current:.3f}" if f.current is not None else "-"
            base = f"{f.baseline:.3f}" if f.baseline is not None else "-"
            lines.append(f"  {f.severity.value:<11} {f.name:<40} {base} -> {cur}  {detail}"[:200])
    lines.append("")
    lines.append(f"{report['case_count']} cases x {report['repeat']}: pass^{report['repeat']} "
                 f"{report['pass_k']:.1%} (threshold {report['threshold']}), errors {report['errors']}, "
                 f"fallbacks {report['fallbacks']}, served from cache {report['cached']}")
    if report["flaky"]:
        lines.append(f"flaky (passed some runs, not all): {', '.join(report['flaky'])}")
    pinned = report.get("baseline") or {}
    if pinned.get("prompts_version") and pinned["prompts_version"] != report["prompts_version"]:
        lines.append(f"prompts changed since the baseline ({pinned['prompts_version']} -> "
                     f"{report['prompts_version']}, baseline commit {pinned.get('commit')})")
    if report["cached"]:
        lines.append("note: some answers came from the answer cache (5 min TTL); they may predate a change")
    counted = report["severity_counts"]
    if counted:
        lines.append("regressions: " + ", ".join(f"{counted[s.value]} {s.value}" for s in REGRESSIONS)
                     + f"; improvements {counted['improvement']}; verdict: {report['verdict'].upper()}")
    else:
        lines.append("no baseline to compare with (run with --bless to pin one)")
    return "\n".join(lines)
