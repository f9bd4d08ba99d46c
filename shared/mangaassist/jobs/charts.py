"""PNG charts of a cost report (matplotlib, Agg backend, object API: no pyplot state shared between threads)."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

# One colour per tier, the same in every chart.
TIER_COLOURS = {"haiku": "#4c78a8", "sonnet": "#f58518", "sonnet_provisioned": "#e45756", "sagemaker": "#54a24b",
                "canned": "#9d9d9d", "unattributed": "#bab0ac"}


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def cost_per_day_by_tier(report: dict[str, Any]) -> bytes:
    """Stacked bars: each JST day's cost, split by the model tier that incurred it."""
    days = [row["day"] for row in report["cost_per_day"]]
    tiers = sorted({tier for row in report["cost_per_day"] for tier in row["by_tier"]},
                   key=lambda t: (list(TIER_COLOURS).index(t) if t in TIER_COLOURS else len(TIER_COLOURS), t))
    figure = Figure(figsize=(max(6.0, 0.35 * len(days) + 2), 4.2), layout="constrained")
    axes = figure.add_subplot()
    bottoms = [0.0] * len(days)
    for tier in tiers:
        values = [float(row["by_tier"].get(tier, "0")) for row in report["cost_per_day"]]
        axes.bar(days, values, bottom=bottoms, label=tier, color=TIER_COLOURS.get(tier))
        bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
    axes.set_title(f"Cost per day by tier (JST days, total ${report['total_usd']})")
    axes.set_xlabel("day (JST)")
    axes.set_ylabel("cost (USD)")
    if tiers:
        axes.legend(title="tier", fontsize="small")
    else:
        axes.text(0.5, 0.5, "no turns in the range", ha="center", va="center", transform=axes.transAxes)
    axes.tick_params(axis="x", labelrotation=60 if len(days) > 7 else 0, labelsize="small")
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


def task_mix(report: dict[str, Any]) -> bytes:
    """Bars per task: how many turns, and what they cost."""
    tasks = list(report["by_task"])
    turns = [report["by_task"][task]["turns"] for task in tasks]
    costs = [float(report["by_task"][task]["cost_usd"]) for task in tasks]
    figure = Figure(figsize=(10, max(3.0, 0.4 * len(tasks) + 1.5)), layout="constrained")
    left, right = figure.subplots(1, 2, sharey=True)
    left.barh(tasks, turns, color="#4c78a8")
    left.set_title(f"Turns by task ({report['turns']} turns)")
    left.set_xlabel("turns")
    left.xaxis.set_major_locator(MaxNLocator(integer=True))
    right.barh(tasks, costs, color="#f58518")
    right.set_title("Cost by task (USD)")
    right.set_xlabel("cost (USD)")
    if not tasks:
        left.text(0.5, 0.5, "no turns in the range", ha="center", va="center", transform=left.transAxes)
    left.invert_yaxis()  # the y axis is shared: the most expensive task on top in both
    for axes in (left, right):
        axes.grid(axis="x", alpha=0.3)
    figure.suptitle(f"Task mix {report['range']['start']} .. {report['range']['end']} (JST)")
    return _png(figure)
