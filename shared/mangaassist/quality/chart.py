"""The regression chart: per-task composite scores of the run next to the baseline's (PNG, Agg backend)."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

SEVERITY_COLOURS = {"critical": "#d62728", "major": "#ff7f0e", "minor": "#e7ba52", "none": "#4c78a8",
                    "improvement": "#54a24b", "new": "#9d9d9d", "missing": "#9d9d9d"}


def task_chart(report: dict[str, Any]) -> bytes:
    """Bars per task: baseline (grey) and this run (coloured by severity); the overall score in the title."""
    current: dict[str, float] = report["per_task"]
    findings = {f["name"]: f for f in report.get("findings", []) if f["scope"] == "task"}  # the tasks that moved
    pinned: dict[str, float] = (report.get("baseline") or {}).get("per_task") or {}
    tasks = sorted(set(current) | set(pinned))
    figure = Figure(figsize=(max(7.0, 0.8 * len(tasks) + 2), 4.4), layout="constrained")
    axes = figure.add_subplot()
    positions = range(len(tasks))
    baseline = [pinned.get(t, 0.0) for t in tasks]
    scores = [current.get(t, 0.0) for t in tasks]
    colours = [SEVERITY_COLOURS[findings[t]["severity"]] if t in findings else SEVERITY_COLOURS["none"]
               for t in tasks]
    if pinned:
        axes.bar([p - 0.2 for p in positions], baseline, width=0.4, color="#c7c7c7", label="baseline")
    axes.bar([p + (0.2 if pinned else 0) for p in positions], scores, width=0.4 if pinned else 0.6,
             color=colours, label="this run")
    axes.axhline(report["threshold"], color="#555555", linestyle=":", linewidth=1, label="pass threshold")
    axes.set_xticks(list(positions), tasks, rotation=30, ha="right")
    axes.set_ylim(0, 1.05)
    axes.set_ylabel("composite score")
    base = report.get("baseline", {}).get("overall")
    axes.set_title(f"Prompt regression: overall {report['overall']:.3f}"
                   + (f" vs baseline {base:.3f}" if base is not None else "")
                   + f" - {report.get('verdict', 'no baseline')}")
    axes.legend(loc="lower right", fontsize=8)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()
