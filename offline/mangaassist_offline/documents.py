"""The bundled catalog and policies as documents for the vector index (one per series, one per policy)."""

from __future__ import annotations

from mangaassist.catalog.documents import Document
from mangaassist.catalog.store import catalog, policies


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
