"""Planning and analysis (SPEC §4): pure functions over pydantic models, Decimal for money.

capacity_plan, recommend_pattern, total_cost_of_ownership, break_even, compare_strategies, select_model and
project_from_turns each take one inputs model (every default from SPEC §3 or the seeds, all overridable) and
return a result that names its assumptions and, in `notes`, where it departs from the seeds' arithmetic.
`chart(result)` draws any result as a PNG (matplotlib is imported only when it is called).
"""

from __future__ import annotations

from mangaassist.planning.breakeven import BreakEvenInputs, BreakEvenPoint, BreakEvenReport, break_even
from mangaassist.planning.models import Commitment, Pattern, TokenPrice
from mangaassist.planning.patterns import (
    LatencyProfile,
    PatternInputs,
    PatternRecommendation,
    PatternScore,
    recommend_pattern,
)
from mangaassist.planning.projection import CostProjection, TaskCost, TurnCost, project_from_turns
from mangaassist.planning.selection import ModelProfile, ModelScore, ModelSelection, SelectionInputs, select_model
from mangaassist.planning.strategies import (
    CascadeIdentity,
    Strategy,
    StrategyComparison,
    StrategyInputs,
    StrategyResult,
    compare_strategies,
)
from mangaassist.planning.tco import PatternCost, TcoInputs, TcoReport, total_cost_of_ownership
from mangaassist.planning.traffic import CapacityInputs, CapacityPlan, capacity_plan


def chart(result: object) -> bytes:
    """A PNG of any planning result (see planning.charts)."""
    from mangaassist.planning.charts import chart as draw

    return draw(result)


__all__ = [
    "BreakEvenInputs",
    "BreakEvenPoint",
    "BreakEvenReport",
    "CapacityInputs",
    "CapacityPlan",
    "CascadeIdentity",
    "Commitment",
    "CostProjection",
    "LatencyProfile",
    "ModelProfile",
    "ModelScore",
    "ModelSelection",
    "Pattern",
    "PatternCost",
    "PatternInputs",
    "PatternRecommendation",
    "PatternScore",
    "SelectionInputs",
    "Strategy",
    "StrategyComparison",
    "StrategyInputs",
    "StrategyResult",
    "TaskCost",
    "TcoInputs",
    "TcoReport",
    "TokenPrice",
    "TurnCost",
    "break_even",
    "capacity_plan",
    "chart",
    "compare_strategies",
    "project_from_turns",
    "recommend_pattern",
    "select_model",
    "total_cost_of_ownership",
]
