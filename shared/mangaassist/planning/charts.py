"""One small PNG per planning result: `chart(result) -> bytes`. No pyplot state: each chart is its own Figure."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import StrMethodFormatter

from mangaassist.planning.breakeven import BreakEvenReport
from mangaassist.planning.models import Commitment
from mangaassist.planning.patterns import PatternRecommendation
from mangaassist.planning.projection import CostProjection
from mangaassist.planning.selection import ModelSelection
from mangaassist.planning.strategies import StrategyComparison
from mangaassist.planning.tco import TcoReport
from mangaassist.planning.traffic import CapacityPlan

SIZE = (6.4, 3.6)
DPI = 100
OK, NOT_OK = "#4C72B0", "#C44E52"


def _png(draw: Callable[[Axes], None]) -> bytes:
    figure = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    draw(figure.add_subplot())
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _bars(ax: Axes, labels: list[str], values: list[float], good: list[bool], title: str, ylabel: str,
          fmt: str = "{:,.0f}") -> None:
    bars = ax.bar(labels, values, color=[OK if g else NOT_OK for g in good])
    for bar, g in zip(bars, good, strict=True):
        if not g:
            bar.set_hatch("//")
            bar.set_edgecolor("white")
    ax.bar_label(bars, labels=[fmt.format(v) for v in values], fontsize=8)
    ax.set_title(title, fontsize=10)
    ax.set_ylabel(ylabel, fontsize=9)
    if max(values, default=0) >= 1000:
        ax.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    ax.tick_params(axis="x", labelsize=8, rotation=10)
    ax.margins(y=0.15)


def _capacity(plan: CapacityPlan) -> Callable[[Axes], None]:
    def draw(ax: Axes) -> None:
        models = list(plan.model_units)
        x = range(len(models))
        peak = ax.bar([i - 0.2 for i in x], [plan.model_units[m] for m in models], 0.4, label="peak", color=OK)
        burst = ax.bar([i + 0.2 for i in x], [plan.model_units_burst[m] for m in models], 0.4,
                       label="burst + headroom", color="#DD8452")
        ax.bar_label(peak, fontsize=8)
        ax.bar_label(burst, fontsize=8)
        ax.set_xticks(list(x), models)
        ax.set_ylabel("model units", fontsize=9)
        ax.set_title(f"Provisioned units at {plan.tokens_per_minute_peak / 1e6:.2f}M tokens/min peak "
                     f"({plan.peak_rps:.1f} RPS)", fontsize=10)
        ax.legend(fontsize=8)
        ax.margins(y=0.15)
    return draw


def _patterns(result: PatternRecommendation) -> Callable[[Axes], None]:
    return lambda ax: _bars(ax, [c.pattern.value.replace("_", "\n", 1) for c in result.candidates],
                            [c.total_score for c in result.candidates], [c.eligible for c in result.candidates],
                            f"Pattern scores (recommended: {result.recommended or 'none'}; hatched = excluded)",
                            "weighted score (0-100)", "{:.1f}")


def _tco(report: TcoReport) -> Callable[[Axes], None]:
    return lambda ax: _bars(ax, [p.pattern.value.replace("_", "\n", 1) for p in report.patterns],
                            [float(p.total_usd) for p in report.patterns], [p.viable for p in report.patterns],
                            "Monthly TCO at the size the load needs (hatched = not viable as configured)",
                            "USD per month", "${:,.0f}")


def _break_even(report: BreakEvenReport) -> Callable[[Axes], None]:
    def draw(ax: Axes) -> None:
        terms = list(Commitment)
        for model in dict.fromkeys(p.model for p in report.points):
            needed = [report.point(model, c).utilisation_needed for c in terms]
            ax.plot([c.value for c in terms], [100 * (v or 0.0) for v in needed], marker="o", label=model)
        ax.axhline(100, color=NOT_OK, linestyle="--", linewidth=1, label="100% (never above)")
        ax.set_ylabel("break-even utilisation (%)", fontsize=9)
        ax.set_xlabel("commitment", fontsize=9)
        ax.set_title("Utilisation at which provisioned beats on-demand", fontsize=10)
        ax.legend(fontsize=8)
    return draw


def _strategies(result: StrategyComparison) -> Callable[[Axes], None]:
    items = list(result.strategies.values())
    return lambda ax: _bars(ax, [s.name.value for s in items], [float(s.daily_cost_usd) for s in items],
                            [s.meets_quality_floor for s in items],
                            "Daily model cost by strategy (hatched = below the quality floor)", "USD per day",
                            "${:,.2f}")


def _selection(result: ModelSelection) -> Callable[[Axes], None]:
    return lambda ax: _bars(ax, [s.name for s in result.ranking], [s.total_score for s in result.ranking],
                            [s.eligible for s in result.ranking],
                            f"Model scores (selected: {result.selected or 'none'}; hatched = excluded)",
                            "weighted score (0-1)", "{:.3f}")


def _projection(result: CostProjection) -> Callable[[Axes], None]:
    def draw(ax: Axes) -> None:
        days = list(result.per_day)
        ax.bar(days, [float(v) for v in result.per_day.values()], color=OK)
        ax.axhline(float(result.daily_cost_usd), color="#DD8452", linestyle="--", linewidth=1, label="average")
        ax.set_ylabel("USD per day", fontsize=9)
        ax.set_title(f"Observed daily cost (${float(result.cost_per_query_usd):.6f} per query, "
                     f"target ${float(result.cost_target_per_query_usd):.3f})", fontsize=10)
        ax.tick_params(axis="x", labelsize=7, rotation=30)
        ax.legend(fontsize=8)
    return draw


DRAWERS: dict[type[Any], Callable[[Any], Callable[[Axes], None]]] = {
    CapacityPlan: _capacity, PatternRecommendation: _patterns, TcoReport: _tco, BreakEvenReport: _break_even,
    StrategyComparison: _strategies, ModelSelection: _selection, CostProjection: _projection,
}


def chart(result: object) -> bytes:
    """A PNG of any planning result."""
    drawer = DRAWERS.get(type(result))
    if drawer is None:
        raise TypeError(f"no chart for {type(result).__name__}")
    return _png(drawer(result))
