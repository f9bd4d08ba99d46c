"""The pinned baseline: the scores of a blessed run, with what produced them (commit, prompts, models).

quality/baseline.json is the committed baseline of the local stack (the local model, multilingual-e5-small
embeddings); a deployed stack keeps its own (`--baseline FILE`): similarities from another embedding model
are not comparable, so a comparison across embedding models is refused.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mangaassist.answer import prompts

BASELINE_PATH = Path(__file__).with_name("baseline.json")
SCHEMA = "mangaassist.regression-baseline/1"


class BaselineError(ValueError):
    """No usable baseline (missing, malformed, or from another embedding model)."""


class EmbeddingSpace(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    model_id: str
    dimensions: int


class Baseline(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_: str = Field(SCHEMA, alias="schema")
    created_at: str
    commit: str
    prompts_version: str
    model_ids: list[str]
    embedding: EmbeddingSpace
    target: str
    repeat: int
    threshold: float
    overall: float
    per_task: dict[str, float]
    per_language: dict[str, float]
    cases: dict[str, float]


def prompts_version() -> str:
    """A short hash of every system prompt's text and token limit: it changes whenever a prompt does."""
    material = {"base": prompts.BASE, "guidance": {k.value: v for k, v in prompts.TASK_GUIDANCE.items()},
                "max_tokens": {k.value: v for k, v in prompts.MAX_TOKENS.items()}}
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:12]


def bless(summary: dict[str, Any], commit: str, target: str) -> Baseline:
    return Baseline.model_validate({
        "schema": SCHEMA, "created_at": datetime.now(UTC).isoformat(timespec="seconds"), "commit": commit,
        "prompts_version": prompts_version(), "model_ids": summary["model_ids"], "embedding": summary["embedding"],
        "target": target, "repeat": summary["repeat"], "threshold": summary["threshold"],
        "overall": summary["overall"], "per_task": summary["per_task"], "per_language": summary["per_language"],
        "cases": summary["cases"]})


def save_baseline(baseline: Baseline, path: Path | None = None) -> Path:
    target = path or BASELINE_PATH
    target.write_text(json.dumps(baseline.model_dump(mode="json", by_alias=True), ensure_ascii=False, indent=1)
                      + "\n", encoding="utf-8")
    return target


def load_baseline(path: Path | None = None) -> Baseline:
    target = path or BASELINE_PATH
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"no baseline at {target}: run with --bless first") from None
    except (OSError, ValueError) as error:
        raise BaselineError(f"cannot read the baseline {target}: {error}") from None
    try:
        return Baseline.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise BaselineError(f"the baseline {target} is malformed: {problems}") from None


def check_comparable(baseline: Baseline, embedding: dict[str, Any]) -> None:
    if (baseline.embedding.model_id, baseline.embedding.dimensions) != (embedding["model_id"],
                                                                         embedding["dimensions"]):
        raise BaselineError(
            f"the baseline's similarities come from {baseline.embedding.model_id} "
            f"({baseline.embedding.dimensions} dims), this run's from {embedding['model_id']} "
            f"({embedding['dimensions']} dims): not comparable; give the baseline of this target (--baseline) "
            "or bless one")
