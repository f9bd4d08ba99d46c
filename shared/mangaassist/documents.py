"""The documents the vector index holds: one per catalog series and per store policy.

Ids are stable ("series:one-piece", "policy:returns"), so re-ingesting the same
document overwrites it instead of adding a copy.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from mangaassist.store_data import catalog, policies

KINDS = ("series", "policy")


class Document(BaseModel):
    id: str = Field(pattern=r"^(series|policy):[a-z0-9][a-z0-9-]*$")
    kind: str
    title: str = Field(min_length=1)
    text: str = Field(min_length=1, max_length=8000)
    fields: dict[str, Any] = Field(default_factory=dict)  # filterable: demographic, genres, status


def series_documents() -> list[Document]:
    return [
        Document(id=f"series:{s.id}", kind="series", title=f"{s.title_en} ({s.title_ja})",
                 text=" ".join([s.title_en, s.title_ja, *s.aliases, s.author, s.author_ja, s.demographic,
                                *s.genres, s.synopsis_en, s.synopsis_ja]),
                 fields={"demographic": s.demographic, "genres": list(s.genres), "status": s.status})
        for s in catalog().values()
    ]


def policy_documents() -> list[Document]:
    return [
        Document(id=f"policy:{p.id}", kind="policy", title=p.title_en,
                 text=" ".join([p.title_en, p.title_ja, p.body_en, p.body_ja, *p.keywords]), fields={"topic": p.topic})
        for p in policies().values()
    ]


def store_documents() -> list[Document]:
    return series_documents() + policy_documents()
