"""The optimize job's parameters (the analytics queue's `optimize` kind; the EventBridge schedule sends `{}`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class OptimizeParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    window_minutes: int = Field(default=60, ge=5, le=1440, description="the sliding window of stored turns, in minutes")
    apply: bool | None = Field(default=None, description="write the step (only where the stack's OptimizerApply=true); "
                                                 "default: as OptimizerApply says")
    quality: float | None = Field(default=None, ge=0, le=1, description="the quality score to check (default: the last "
                                                               "regression run's, from the results bucket)")
    cooldown_minutes: int = Field(default=30, ge=0, le=1440, description="nothing moves this long after a change")
    min_turns: int = Field(default=20, ge=1, le=100_000, description="fewer turns in the window: nothing moves")
