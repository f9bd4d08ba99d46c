"""Retrieve: the sources a turn's answer may rest on.

Hybrid BM25 + k-NN search in the vector store with the turn's query embedding;
keyword retrieval over the bundled catalog and policies when there is no store or
no embedding (EmbedQuery failed). Plus exact lookups in DynamoDB: product by
series and volume, order by id. Recommendation requests ("like X", attributes, "I've read X")
get picks by similarity on the catalog's fields instead (recommend.py); a volume or title that
does not exist gets a not-found record (not_found.py).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from functools import cache
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from mangaassist.catalog.store import Policy, Series, catalog, policies
from mangaassist.telemetry import record_retrieval_degraded
from mangaassist.text import detect_language, extract_entities, reply_language
from mangaassist.textnorm import tokens
from mangaassist.turn import Entities, HistoryItem, QueryEmbedding, Retrieval, SourceRef, Task
from mangaassist.understand.classify import features
from mangaassist.understand.not_found import missing_title, missing_volume, unknown_title
from mangaassist.understand.order_access import OrderLookupLimit, order_source
from mangaassist.understand.recommend import recommendation_request, recommendation_sources
from mangaassist.understand.task_model import TaskModel

TOP_K = 5
logger = Logger(service="mangaassist")
class _Doc:
    def __init__(self, ref: SourceRef, text: str, boost: str) -> None:
        self.ref = ref
        self.terms = Counter(tokens(text))
        self.boost = set(tokens(boost))  # title/keyword terms weigh double


def series_ref(s: Series, score: float = 0.0) -> SourceRef:
    return SourceRef(kind="series", id=s.id, title=f"{s.title_en} ({s.title_ja})", snippet=s.synopsis_en[:160],
                     score=score, facts={"author": s.author, "volumes": s.volumes, "status": s.status,
                                         "price_jpy": s.price_jpy, "demographic": s.demographic})


def policy_ref(p: Policy, score: float = 0.0) -> SourceRef:
    return SourceRef(kind="policy", id=p.id, title=p.title_en, snippet=p.body_en[:200], score=score)


def ref_for(doc_id: str, score: float) -> SourceRef | None:
    """The source for a vector-store hit ("series:one-piece"), or None if the store knows more than the catalog."""
    kind, _, key = doc_id.partition(":")
    if kind == "series" and key in catalog():
        return series_ref(catalog()[key], score)
    if kind == "policy" and key in policies():
        return policy_ref(policies()[key], score)
    return None


@cache
def _corpus() -> tuple[list[_Doc], dict[str, float]]:
    docs: list[_Doc] = []
    for s in catalog().values():
        text = " ".join([*s.names(), s.author, s.author_ja, s.demographic, *s.genres, s.synopsis_en, s.synopsis_ja])
        docs.append(_Doc(series_ref(s), text, " ".join([*s.names(), *s.genres])))
    for p in policies().values():
        text = " ".join([p.title_en, p.title_ja, p.body_en, p.body_ja, *p.keywords])
        docs.append(_Doc(policy_ref(p), text, " ".join([p.title_en, p.title_ja, *p.keywords])))
    df = Counter(term for doc in docs for term in doc.terms)
    idf = {term: math.log(1 + len(docs) / count) for term, count in df.items()}
    return docs, idf


def keyword_search(query: str, entities: Entities, k: int = TOP_K) -> list[SourceRef]:
    docs, idf = _corpus()
    query_terms = set(tokens(query))
    scored = []
    for doc in docs:
        score = sum(idf.get(t, 0.0) * (1 + math.log(doc.terms[t])) * (2 if t in doc.boost else 1)
                    for t in query_terms if t in doc.terms)
        if doc.ref.kind == "series" and doc.ref.id in entities.titles:
            score += 50  # a title named in the question is the strongest evidence
        if score > 0:
            scored.append((score, doc.ref))
    scored.sort(key=lambda item: -item[0])
    return [ref.model_copy(update={"score": round(score, 3)}) for score, ref in scored[:k]]


class ExactLookups(Protocol):
    def product(self, series_id: str, volume: int) -> dict[str, Any] | None: ...
    def order(self, order_id: str) -> dict[str, Any] | None: ...


def _product_ref(item: dict[str, Any]) -> SourceRef:
    volume = int(item["volume"])
    return SourceRef(kind="product", id=str(item["productId"]), title=f"{item['title_en']} vol. {volume}",
                     facts={"series_id": item["seriesId"], "volume": volume, "price_jpy": int(item["price_jpy"]),
                            "stock": int(item["stock"]), "title_ja": item.get("title_ja")})


def _order_ref(item: dict[str, Any]) -> SourceRef:
    lines = ", ".join(f"{i['series_id']} vol. {int(i['volume'])} x{int(i['qty'])}" for i in item.get("items", []))
    return SourceRef(kind="order", id=str(item["orderId"]), title=f"Order {item['orderId']}", snippet=lines[:200],
                     facts={"status": item.get("status"), "carrier": item.get("carrier"),
                            "tracking_number": item.get("tracking_number"), "eta": item.get("eta"),
                            "placed_at": item.get("placed_at")})


class Searcher(Protocol):
    def search(self, text: str, vector: Sequence[float] | None, k: int = TOP_K, kinds: Sequence[str] | None = None,
               mode: str = "hybrid") -> list[Any]: ...


def semantic_search(message: str, entities: Entities, vector: Sequence[float], store: Searcher,
                    k: int = TOP_K, kinds: Sequence[str] | None = None) -> list[SourceRef]:
    """Hybrid search; a series named in the question is put first (the exact evidence beats similarity)."""
    refs = [ref for hit in store.search(message, vector, k=k + len(entities.titles), kinds=kinds)
            if (ref := ref_for(hit.id, hit.score)) is not None]
    named = [series_ref(catalog()[sid], 1.0) for sid in entities.titles if sid in catalog()]
    merged = {(ref.kind, ref.id): ref for ref in [*named, *refs]}
    return list(merged.values())[:k]


def store_question(message: str, entities: Entities, embedding: QueryEmbedding, model: TaskModel | None) -> bool:
    """Whether the question is about the store itself (a policy), by the learned task model on the shared
    embedding: then 300 series do not crowd the 15 policies out of the top 5 (recall@5 0.941 -> 0.956)."""
    if model is None or entities.titles or not model.accepts(embedding.model_id, embedding.vector):
        return False
    task, _ = model.predict(features(message, embedding.vector))
    return task is Task.FAQ


def retrieve(message: str, lookups: ExactLookups, embedding: QueryEmbedding | None = None,
             store: Searcher | None = None, model: TaskModel | None = None, principal: str | None = None,
             order_limit: OrderLookupLimit | None = None, history: Sequence[HistoryItem] = (),
             locale: str | None = None) -> Retrieval:
    """`principal` is who asks (None: a guest): an order's details go to its owner only (order_access).
    `history` is the session's earlier turns: what the customer read or was already recommended."""
    entities = extract_entities(message)
    sources: list[SourceRef] = []
    for order_id in entities.order_ids[:3]:
        sources.append(order_source(order_id, principal, lookups, order_limit, _order_ref))
    for series_id in entities.titles[:3]:
        for volume in entities.volumes[:3]:
            item = lookups.product(series_id, volume)
            if item is not None:
                sources.append(_product_ref(item))
            elif series_id in catalog() and volume > catalog()[series_id].volumes:
                sources.append(missing_volume(catalog()[series_id], volume))
    if not entities.titles and (title := unknown_title(message)) is not None:
        sources.append(missing_title(title))
    request = recommendation_request(message, history, embedding, model)
    if request is not None:
        # "Like X": candidates by similarity to X on the catalog's fields, not by the words of the question.
        ja = reply_language(detect_language(message), locale) == "ja"
        found = recommendation_sources(request, ja)
    else:
        found = search(message, entities, embedding, store, model)
    taken = {(ref.kind, ref.id) for ref in sources}
    sources.extend(ref for ref in found if (ref.kind, ref.id) not in taken)
    return Retrieval(sources=sources)


def search(message: str, entities: Entities, embedding: QueryEmbedding | None, store: Searcher | None,
           model: TaskModel | None) -> list[SourceRef]:
    """Hybrid search in the vector store; keyword search when it cannot answer. (Before #11 this answered
    recommendations too: scripts/eval_recommend.py --old runs it so.)"""
    found: list[SourceRef] = []
    if store is not None and embedding is not None:
        kinds = ["policy"] if store_question(message, entities, embedding, model) else None
        try:
            found = semantic_search(message, entities, embedding.vector, store, kinds=kinds)
        except Exception as error:  # noqa: BLE001 - any index failure degrades to keywords, never fails the turn
            degraded("unreachable", error)
        else:
            if not found:
                degraded("empty", None)  # an index not yet filled (a fresh deploy before `mangaassist seed`)
    return found or keyword_search(message, entities)


def degraded(reason: str, error: Exception | None) -> None:
    """The vector index could not answer: keyword search over the bundled catalog answers instead."""
    logger.warning("vector index unavailable; keyword retrieval instead",
                   extra={"reason": reason, "error": repr(error) if error else None})
    record_retrieval_degraded(reason)
