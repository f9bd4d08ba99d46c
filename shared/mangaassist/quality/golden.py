"""The golden set: customer questions with a reference answer and what a correct answer must (not) contain.

It ships in the layer as product data (golden.jsonl next to this file): the `regression-run` job runs in
Lambda and reads it there. It is not training or evaluation data for a model (nothing learns from it); it is
the specification of answers the store promises, like the catalog and the policies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mangaassist.turn import Task

GOLDEN_PATH = Path(__file__).with_name("golden.jsonl")


class GoldenError(ValueError):
    """The golden set cannot be read: the message names the file and line."""


class Structure(BaseModel):
    """What the answer's shape must be; every field set is one check (structure score = share passed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_chars: int | None = Field(default=None, gt=0)
    max_sentences: int | None = Field(default=None, gt=0)
    min_items: int | None = Field(default=None, gt=0, description="list items (lines starting with -, ・, *, • or 1.)")
    must: tuple[Literal["price", "order_id", "question", "date"], ...] = ()


class GoldenCase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    task: Task
    language: Literal["en", "ja"]
    question: str = Field(min_length=1)
    reference: str = Field(min_length=1)
    expected_keywords: tuple[str, ...] = ()
    forbidden_keywords: tuple[str, ...] = ()
    structure: Structure = Structure()


def parse_golden(lines: list[str], source: str = "golden set") -> list[GoldenCase]:
    cases: list[GoldenCase] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            case = GoldenCase.model_validate(json.loads(line))
        except ValueError as error:  # JSONDecodeError and ValidationError are both ValueErrors
            detail = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()) \
                if isinstance(error, ValidationError) else str(error)
            raise GoldenError(f"{source} line {number}: {detail}") from None
        if case.id in seen:
            raise GoldenError(f"{source} line {number}: duplicate case id {case.id!r}")
        seen.add(case.id)
        cases.append(case)
    if not cases:
        raise GoldenError(f"{source}: no cases")
    return cases


def load_golden(path: Path | None = None) -> list[GoldenCase]:
    target = path or GOLDEN_PATH
    try:
        text = target.read_text(encoding="utf-8")
    except OSError as error:
        raise GoldenError(f"cannot read the golden set {target}: {error.strerror or error}") from None
    return parse_golden(text.splitlines(), str(target))
