"""The documents the vector index holds: one per catalog series and per store policy.

Ids are stable ("series:one-piece", "policy:returns"), so re-ingesting the same
document overwrites it instead of adding a copy.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

KINDS = ("series", "policy")


class Document(BaseModel):
    id: str = Field(pattern=r"^(series|policy):[a-z0-9][a-z0-9-]*$")
    kind: str
    title: str = Field(min_length=1)
    text: str = Field(min_length=1, max_length=8000)
    fields: dict[str, Any] = Field(default_factory=dict)  # filterable: demographic, genres, status


