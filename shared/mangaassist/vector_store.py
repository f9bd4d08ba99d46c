"""The VectorStore port: hybrid (BM25 + k-NN) search over the catalog and policy documents.

Adapters:
- OpenSearchVectorStore: Amazon OpenSearch Serverless (VECTORSEARCH collection, SigV4 for "aoss").
  Such collections generate their own _id, so our stable id lives in the `doc_id` field with a
  content hash: re-ingesting an unchanged document is skipped, a changed one replaces the old copy.
  BM25 and k-NN run as two queries fused with reciprocal-rank fusion (no search pipeline needed).
- EmbeddedVectorStore: the same contract in-process (numpy + BM25), persisted to a directory, for the
  local stack where no OpenSearch k-NN server can be had.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mangaassist.documents import Document
from mangaassist.retrieve import tokens

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


class EmbeddedVectorStore:
    """In-process index: cosine k-NN over a numpy matrix and BM25 over our tokenizer, saved under `path`."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._docs: dict[str, dict[str, Any]] = {}  # id -> {kind, title, hash, terms}
        self._vectors: dict[str, np.ndarray] = {}
        self._stamp = 0.0
        self._matrix: tuple[list[str], np.ndarray] | None = None
        if path is not None:
            self._reload()

    # -- persistence: the embedding worker writes, Retrieve (maybe another process) reads -----------------
    def _files(self) -> tuple[Path, Path]:
        assert self.path is not None
        return self.path / "docs.json", self.path / "vectors.npz"

    def _reload(self) -> None:
        docs_file, vectors_file = self._files()
        if not docs_file.exists() or not vectors_file.exists():
            return
        stamp = docs_file.stat().st_mtime
        if stamp == self._stamp:
            return
        docs = json.loads(docs_file.read_text("utf-8"))
        with np.load(vectors_file) as data:
            vectors = {doc_id: data[doc_id] for doc_id in data.files}
        self._docs = {doc_id: {**meta, "terms": Counter(meta["terms"])} for doc_id, meta in docs.items()}
        self._vectors, self._stamp, self._matrix = vectors, stamp, None

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        docs_file, vectors_file = self._files()
        tmp_vectors = vectors_file.with_suffix(".tmp.npz")
        np.savez(tmp_vectors, **self._vectors)
        tmp_vectors.replace(vectors_file)
        tmp_docs = docs_file.with_suffix(".tmp")
        tmp_docs.write_text(json.dumps({i: {**m, "terms": dict(m["terms"])} for i, m in self._docs.items()},
                                       ensure_ascii=False), "utf-8")
        tmp_docs.replace(docs_file)  # written last: readers reload when it changes
        self._stamp = docs_file.stat().st_mtime

    def __len__(self) -> int:
        return len(self._docs)

    def hashes(self) -> dict[str, str]:
        """Document id -> content hash of what is indexed (to embed only what changed)."""
        with self._lock:
            if self.path is not None:
                self._reload()
            return {doc_id: meta["hash"] for doc_id, meta in self._docs.items()}

    def upsert(self, docs: Sequence[Document], vectors: Sequence[Sequence[float]]) -> list[str]:
        with self._lock:
            if self.path is not None:
                self._reload()
            changed = False
            for doc, vector in zip(docs, vectors, strict=True):
                digest = content_hash(doc)
                if self._docs.get(doc.id, {}).get("hash") == digest:
                    continue  # re-ingesting an unchanged document changes nothing
                self._docs[doc.id] = {"kind": doc.kind, "title": doc.title, "hash": digest,
                                      "terms": Counter(tokens(doc.text))}
                self._vectors[doc.id] = np.asarray(vector, dtype=np.float32)
                changed = True
            if changed:
                self._matrix = None
                self._save()
        return []

    def _bm25(self, text: str, allowed: set[str]) -> list[str]:
        query = set(tokens(text))
        n = len(self._docs) or 1
        avg = sum(sum(m["terms"].values()) for m in self._docs.values()) / n
        df = Counter(t for m in self._docs.values() for t in m["terms"] if t in query)
        scored = []
        for doc_id in allowed:
            terms = self._docs[doc_id]["terms"]
            length = sum(terms.values()) or 1
            score = 0.0
            for term in query & terms.keys():
                idf = math.log(1 + (n - df[term] + 0.5) / (df[term] + 0.5))
                tf = terms[term]
                score += idf * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / avg))
            if score > 0:
                scored.append((score, doc_id))
        return [doc_id for _, doc_id in sorted(scored, reverse=True)[:CANDIDATES]]

    def _knn(self, vector: Sequence[float], allowed: set[str]) -> list[str]:
        if self._matrix is None:
            ids = sorted(self._vectors)
            self._matrix = (ids, np.stack([self._vectors[i] for i in ids]) if ids else np.zeros((0, 1)))
        ids, matrix = self._matrix
        if not ids:
            return []
        sims = matrix @ np.asarray(vector, dtype=np.float32)
        order = [ids[i] for i in np.argsort(-sims)]
        return [doc_id for doc_id in order if doc_id in allowed][:CANDIDATES]

    def search(self, text: str, vector: Sequence[float] | None, k: int = 5, kinds: Sequence[str] | None = None,
               mode: str = "hybrid") -> list[Hit]:
        with self._lock:
            if self.path is not None:
                self._reload()
            allowed = {i for i, m in self._docs.items() if kinds is None or m["kind"] in kinds}
            keyword = self._bm25(text, allowed) if mode in ("hybrid", "keyword") else []
            semantic = self._knn(vector, allowed) if vector is not None and mode in ("hybrid", "vector") else []
        return fuse(keyword, semantic)[:k]


class OpenSearchVectorStore:
    """Amazon OpenSearch Serverless (or any OpenSearch with k-NN) through opensearch-py."""

    def __init__(self, client: Any, index: str, dimensions: int) -> None:
        self._client = client
        self.index = index
        self.dimensions = dimensions
        self._index_ready = False

    @classmethod
    def connect(cls, endpoint: str, index: str, dimensions: int, region: str) -> OpenSearchVectorStore:
        import boto3
        from opensearchpy import AWSV4SignerAuth, OpenSearch, RequestsHttpConnection

        auth = AWSV4SignerAuth(boto3.Session().get_credentials(), region, "aoss")
        host = endpoint.removeprefix("https://")
        client = OpenSearch(hosts=[{"host": host, "port": 443}], http_auth=auth, use_ssl=True, verify_certs=True,
                            connection_class=RequestsHttpConnection, timeout=2, pool_maxsize=10)
        return cls(client, index, dimensions)

    def mapping(self) -> dict[str, Any]:
        return {
            "settings": {"index": {"knn": True}},
            "mappings": {"properties": {
                "doc_id": {"type": "keyword"}, "kind": {"type": "keyword"}, "hash": {"type": "keyword"},
                "title": {"type": "text"}, "text": {"type": "text"}, "fields": {"type": "object", "enabled": False},
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


def store_from_env() -> VectorStore | None:
    """OpenSearch when OPENSEARCH_ENDPOINT is set, the embedded index when VECTOR_INDEX_PATH is, else none."""
    endpoint = os.environ.get("OPENSEARCH_ENDPOINT", "")
    if endpoint:
        from mangaassist import aws

        return OpenSearchVectorStore.connect(endpoint, os.environ.get("VECTOR_INDEX", "mangaassist-store"),
                                             int(os.environ.get("EMBEDDING_DIMENSIONS", "1024")), aws.region())
    path = os.environ.get("VECTOR_INDEX_PATH", "")
    return EmbeddedVectorStore(Path(path)) if path else None
