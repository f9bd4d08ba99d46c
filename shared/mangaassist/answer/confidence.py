"""Confidence in an answer, computed from the answer itself (not the model's word).

score = 0.30·stop + 0.20·(1 − hedging) + 0.25·grounding + 0.10·length_fit + 0.15·task_prior

- stop: 1 for a natural end, 0.3 when cut off at max tokens.
- hedging: 0.5 per hedge phrase (English or Japanese), capped at 1.
- grounding: share of stated titles/volumes/prices/stock/order ids found in the
  sources; 0.8 when the answer states none (neither evidence for nor against).
- length_fit: 1 inside the task's expected length band, falling off outside it.
- task_prior: how often a small model gets the task right (the seed's task
  adjustments, rescaled).
Grounding and priors carry more weight than hedging, which is a weak signal alone.
"""

from __future__ import annotations

from mangaassist.reply.grounding import check
from mangaassist.textnorm import normalize
from mangaassist.turn import SourceRef, Task

WEIGHTS = {"stop": 0.30, "hedging": 0.20, "grounding": 0.25, "length": 0.10, "prior": 0.15}

HEDGES = (
    "i'm not sure", "i am not sure", "not certain", "i don't know", "i do not know", "it's unclear", "it is unclear",
    "i cannot determine", "i can't say", "maybe", "perhaps", "possibly", "might be", "i think", "hard to say",
    "わかりません", "分かりません", "不明", "かもしれません", "たぶん", "多分", "おそらく", "はっきりしません",
    "自信がありません",
)

TASK_PRIOR = {
    Task.GREETING: 1.0, Task.FAQ: 0.95, Task.ORDER_STATUS: 0.95, Task.PRODUCT_SEARCH: 0.93,
    Task.SUMMARIZATION: 0.85, Task.RECOMMENDATION: 0.8, Task.TRANSLATION: 0.75, Task.COMPARISON: 0.72,
    Task.UNKNOWN: 0.7, Task.DISCUSSION: 0.65,
}

# Expected answer length in characters (Japanese packs more per character; the band is wide on purpose).
LENGTH_BAND = {
    Task.GREETING: (5, 300), Task.FAQ: (20, 900), Task.PRODUCT_SEARCH: (15, 900), Task.ORDER_STATUS: (15, 700),
    Task.RECOMMENDATION: (40, 1400), Task.COMPARISON: (60, 1800), Task.DISCUSSION: (60, 1800),
    Task.SUMMARIZATION: (40, 1200), Task.TRANSLATION: (2, 1500), Task.UNKNOWN: (5, 900),
}


def hedge_count(text: str) -> int:
    folded = normalize(text)
    return sum(1 for phrase in HEDGES if phrase in folded)


def length_fit(task: Task, text: str) -> float:
    low, high = LENGTH_BAND[task]
    size = len(text.strip())
    if size < low:
        return size / low
    if size > high:
        return max(0.0, 1 - (size - high) / high)
    return 1.0


def score(text: str, stop_reason: str, task: Task, sources: list[SourceRef]) -> float:
    stop = 0.3 if stop_reason in ("max_tokens", "length") else 1.0
    hedging = min(1.0, 0.5 * hedge_count(text))
    share = check(text, sources).share
    grounding = 0.8 if share is None else share
    total = (
        WEIGHTS["stop"] * stop
        + WEIGHTS["hedging"] * (1 - hedging)
        + WEIGHTS["grounding"] * grounding
        + WEIGHTS["length"] * length_fit(task, text)
        + WEIGHTS["prior"] * TASK_PRIOR[task]
    )
    return round(max(0.0, min(1.0, total)), 4)
