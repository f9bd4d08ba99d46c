"""The embedded vector index: hybrid BM25 + cosine k-NN in-process, persisted to a directory.

It stands in for OpenSearch Serverless on a laptop (no k-NN server can be had here): the local stack serves
it behind OpenSearch's HTTP API (mangaassist_local.opensearch), so Lambda code only ever talks OpenSearch.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mangaassist.adapters.opensearch import CANDIDATES, Hit, content_hash, fuse
from mangaassist.catalog.documents import Document
from mangaassist.textnorm import tokens


class _Postings:
    """term -> {document id: term frequency}, with each document's length: a BM25 query then touches only the
    documents that hold its terms, instead of recounting the whole corpus on every search."""

    def __init__(self, docs: dict[str, dict[str, Any]]) -> None:
        self.count = len(docs) or 1
        sizes = {doc_id: sum(meta["terms"].values()) for doc_id, meta in docs.items()}
        self.average_length = sum(sizes.values()) / self.count
        self.lengths = {doc_id: size or 1 for doc_id, size in sizes.items()}
        self.postings: dict[str, dict[str, int]] = {}
        for doc_id, meta in docs.items():
            for term, tf in meta["terms"].items():
                self.postings.setdefault(term, {})[doc_id] = tf


class EmbeddedVectorStore:
    """In-process index: cosine k-NN over a numpy matrix and BM25 over our tokenizer, saved under `path`."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._docs: dict[str, dict[str, Any]] = {}  # id -> {kind, title, hash, terms}
        self._vectors: dict[str, np.ndarray] = {}
        self._stamp = 0.0
        self._matrix: tuple[list[str], np.ndarray] | None = None
        self._postings: _Postings | None = None  # BM25's inverted index, rebuilt when the documents change
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
        self._vectors, self._stamp, self._matrix, self._postings = vectors, stamp, None, None

    def _save(self) -> None:
        if self.path is None:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        docs_file, vectors_file = self._files()
        tmp_vectors = vectors_file.with_suffix(".tmp.npz")
        np.savez(tmp_vectors, **self._vectors)  # type: ignore[arg-type]  # numpy's stub: **kwds are arrays
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

    def get(self, doc_id: str) -> dict[str, Any] | None:
        """What is indexed for `doc_id`: {kind, title, hash}, or None."""
        with self._lock:
            if self.path is not None:
                self._reload()
            meta = self._docs.get(doc_id)
            return None if meta is None else {key: meta[key] for key in ("kind", "title", "hash")}

    def delete(self, doc_ids: Sequence[str]) -> int:
        """Remove documents; returns how many were indexed."""
        with self._lock:
            if self.path is not None:
                self._reload()
            removed = [doc_id for doc_id in doc_ids if self._docs.pop(doc_id, None) is not None]
            for doc_id in removed:
                self._vectors.pop(doc_id, None)
            if removed:
                self._matrix = self._postings = None
                self._save()
            return len(removed)

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
                self._matrix = self._postings = None
                self._save()
        return []

    def _bm25(self, text: str, allowed: set[str]) -> list[str]:
        if self._postings is None:
            self._postings = _Postings(self._docs)
        index = self._postings
        scores: Counter[str] = Counter()
        for term in set(tokens(text)):
            postings = index.postings.get(term, {})
            idf = math.log(1 + (index.count - len(postings) + 0.5) / (len(postings) + 0.5))
            for doc_id, tf in postings.items():
                if doc_id in allowed:
                    norm = 0.25 + 0.75 * index.lengths[doc_id] / index.average_length
                    scores[doc_id] += idf * tf * 2.2 / (tf + 1.2 * norm)
        ranked = sorted(((score, doc_id) for doc_id, score in scores.items() if score > 0), reverse=True)
        return [doc_id for _, doc_id in ranked[:CANDIDATES]]

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
