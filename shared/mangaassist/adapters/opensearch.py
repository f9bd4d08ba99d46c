"""The VectorStore port: hybrid (BM25 + k-NN) search over the catalog and policy documents.

Adapters:
- OpenSearchVectorStore: Amazon OpenSearch Serverless (VECTORSEARCH collection, SigV4 for "aoss").
  Such collections generate their own _id, so our stable id lives in the `doc_id` field with a
  content hash: re-ingesting an unchanged document is skipped, a changed one replaces the old copy.
  BM25 and k-NN run as two queries fused with reciprocal-rank fusion (no search pipeline needed).
Locally the embedded index (mangaassist_offline.embedded_store) answers the same HTTP API inside the local
stack, so this adapter is the only one Lambda code uses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import boto3
from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection

from mangaassist.catalog.documents import Document

RRF_K = 60  # the usual reciprocal-rank-fusion constant: rank 1 scores 1/61
CANDIDATES = 20  # per retriever, before fusion


@dataclass(frozen=True)
class Hit:
    id: str
    score: float


class VectorStore(Protocol):
    def upsert(self, docs: Sequence[Document], vectors: Sequence[Sequence[float]]) -> list[str]:
        """Index documents with their vectors; returns the ids that failed."""
        ...

    def search(self, text: str, vector: Sequence[float] | None, k: int = 5, kinds: Sequence[str] | None = None,
               mode: str = "hybrid") -> list[Hit]:
        """mode: "hybrid" (BM25 + k-NN fused), "vector" or "keyword"."""
        ...


def content_hash(doc: Document) -> str:
    return hashlib.sha256(json.dumps(doc.model_dump(), sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def fuse(*rankings: Sequence[str], k: int = RRF_K) -> list[Hit]:
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, doc_id in enumerate(ranking, 1):
            scores[doc_id] = scores.get(doc_id, 0.0) + 1.0 / (k + rank)
    return [Hit(doc_id, round(score, 6)) for doc_id, score in sorted(scores.items(), key=lambda kv: -kv[1])]


class OpenSearchVectorStore:
    """Amazon OpenSearch Serverless (or any OpenSearch with k-NN) through opensearch-py."""

    def __init__(self, client: Any, index: str, dimensions: int) -> None:
        self._client = client
        self.index = index
        self.dimensions = dimensions
        self._index_ready = False

    @classmethod
    def connect(cls, endpoint: str, index: str, dimensions: int, region: str) -> OpenSearchVectorStore:
        """A SigV4 ("aoss") client for the collection endpoint (https://<id>.<region>.aoss.amazonaws.com;
        the local stack serves the same API at its http:// AWS endpoint)."""
        url = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        if not url.hostname:
            raise ValueError(f"OPENSEARCH_ENDPOINT is not a URL: {endpoint!r}")
        secure = url.scheme == "https"
        auth = AWSV4SignerAuth(boto3.Session().get_credentials(), region, "aoss")
        client = OpenSearch(hosts=[{"host": url.hostname, "port": url.port or (443 if secure else 80)}], http_auth=auth,
                            use_ssl=secure, verify_certs=secure, connection_class=RequestsHttpConnection,
                            timeout=2, pool_maxsize=10)
        return cls(client, index, dimensions)

    def mapping(self) -> dict[str, Any]:
        # Text fields use the built-in `cjk` analyzer: standard tokens for English (lower-cased, English stop
        # words) and overlapping bigrams for Japanese, the same segmentation as textnorm.tokens, which the
        # local index and the retrieval evaluation use; so what is measured locally is what is deployed.
        # (kuromoji would segment Japanese by morphology instead; the analyzers in Lucene's core need no plugin.)
        return {
            "settings": {"index": {"knn": True}},
            "mappings": {"properties": {
                "doc_id": {"type": "keyword"}, "kind": {"type": "keyword"}, "hash": {"type": "keyword"},
                "title": {"type": "text", "analyzer": "cjk"}, "text": {"type": "text", "analyzer": "cjk"},
                "fields": {"type": "object", "enabled": False},
                # Unit-length vectors: L2 order equals cosine order; faiss HNSW is what Serverless supports.
                "embedding": {"type": "knn_vector", "dimension": self.dimensions,
                              "method": {"name": "hnsw", "engine": "faiss", "space_type": "l2"}},
            }},
        }

    def ensure_index(self) -> None:
        if not self._client.indices.exists(index=self.index):
            self._client.indices.create(index=self.index, body=self.mapping())

    def _existing(self, doc_ids: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
        """doc_id -> [(server _id, hash)] for the documents already indexed."""
        found: dict[str, list[tuple[str, str]]] = {}
        response = self._client.search(index=self.index, body={
            "size": 10 * len(doc_ids), "_source": ["doc_id", "hash"],
            "query": {"terms": {"doc_id": list(doc_ids)}}})
        for hit in response["hits"]["hits"]:
            found.setdefault(hit["_source"]["doc_id"], []).append((hit["_id"], hit["_source"]["hash"]))
        return found

    def upsert(self, docs: Sequence[Document], vectors: Sequence[Sequence[float]]) -> list[str]:
        if not self._index_ready:
            self.ensure_index()
            self._index_ready = True
        existing = self._existing([doc.id for doc in docs])
        actions: list[dict[str, Any]] = []
        owners: list[str] = []  # which document each action belongs to, to report failures
        for doc, vector in zip(docs, vectors, strict=True):
            digest = content_hash(doc)
            copies = existing.get(doc.id, [])
            if len(copies) == 1 and copies[0][1] == digest:
                continue  # unchanged: re-ingesting changes nothing
            for server_id, _ in copies:
                actions += [{"delete": {"_index": self.index, "_id": server_id}}]
                owners.append(doc.id)
            actions += [{"index": {"_index": self.index}},
                        {"doc_id": doc.id, "kind": doc.kind, "hash": digest, "title": doc.title, "text": doc.text,
                         "fields": doc.fields, "embedding": [float(x) for x in vector]}]
            owners.append(doc.id)
        if not actions:
            return []
        response = self._client.bulk(body=actions)
        return sorted({owners[n] for n, item in enumerate(response.get("items", []))
                       if next(iter(item.values())).get("status", 200) >= 300
                       and next(iter(item.values())).get("status") != 404})

    def search(self, text: str, vector: Sequence[float] | None, k: int = 5, kinds: Sequence[str] | None = None,
               mode: str = "hybrid") -> list[Hit]:
        filters = [{"terms": {"kind": list(kinds)}}] if kinds else []
        rankings = []
        if mode in ("hybrid", "keyword"):
            body = {"size": CANDIDATES, "_source": ["doc_id"], "query": {"bool": {
                "must": [{"multi_match": {"query": text, "fields": ["title^2", "text"]}}], "filter": filters}}}
            rankings.append(self._ids(self._client.search(index=self.index, body=body)))
        if vector is not None and mode in ("hybrid", "vector"):
            knn: dict[str, Any] = {"vector": [float(x) for x in vector], "k": CANDIDATES}
            if filters:
                knn["filter"] = {"bool": {"filter": filters}}
            body = {"size": CANDIDATES, "_source": ["doc_id"], "query": {"knn": {"embedding": knn}}}
            rankings.append(self._ids(self._client.search(index=self.index, body=body)))
        return fuse(*rankings)[:k]

    @staticmethod
    def _ids(response: dict[str, Any]) -> list[str]:
        return list(dict.fromkeys(hit["_source"]["doc_id"] for hit in response["hits"]["hits"]))
