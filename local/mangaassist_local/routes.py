"""`mangaassist routes`: inspect the router's decisions without calling a model."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from mangaassist.answer.routing import decide
from mangaassist.turn import TurnConfig
from mangaassist.understand.classify import classify
from mangaassist_local.stack import REGION, REPO
from mangaassist_local.template import Template


def default_config(sagemaker_endpoint: str = "", provisioned_arn: str = "",
                   daily_budget: str | None = None) -> TurnConfig:
    """The config the deployed machine would carry, from template.yaml's parameter defaults."""
    params = Template(REPO / "template.yaml", REGION).parameters
    return TurnConfig(haiku_model_id=params["HaikuModelId"], sonnet_model_id=params["SonnetModelId"],
                      sonnet_provisioned_arn=provisioned_arn, sagemaker_endpoint=sagemaker_endpoint,
                      confidence_threshold=float(params["ConfidenceThreshold"]),
                      daily_budget_usd=Decimal(daily_budget or params["DailyBudgetUsd"]))


def route_line(raw: str, config: TurnConfig) -> dict[str, Any]:
    item = json.loads(raw)
    if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"].strip():
        raise ValueError('expected an object with a non-empty "text"')
    at = datetime.fromisoformat(item["at"]) if item.get("at") else datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError('"at" needs a timezone, e.g. 2025-11-23T19:30:00+09:00')
    spent = Decimal(str(item.get("spent_usd", "0")))
    if spent < 0:
        raise ValueError('"spent_usd" cannot be negative')
    classification = classify(item["text"])
    decision = decide(classification, config, spent, at)
    return {"text": item["text"], "at": at.isoformat(), "spent_usd": str(spent),
            "task": classification.task.value, "language": classification.language.value,
            "complexity": classification.complexity, "manga_specific": classification.manga_specific,
            "target": decision.target.value, "reason": decision.reason, "fallback": decision.fallback.value,
            "escalate_to": decision.escalate_to.value if decision.escalate_to else None}


def route_lines(lines: Iterable[str], sagemaker_endpoint: str = "", provisioned_arn: str = "",
                daily_budget: str | None = None) -> Iterator[dict[str, Any]]:
    config = default_config(sagemaker_endpoint, provisioned_arn, daily_budget)
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            yield route_line(raw, config)
        except (ValueError, TypeError, InvalidOperation) as error:
            yield {"line": number, "error": str(error) or type(error).__name__}
