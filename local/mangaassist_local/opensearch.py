"""OpenSearch's HTTP API on the local AWS port, answered by the embedded vector index.

*A stand-in, not OpenSearch*: no k-NN server can run here, so requests signed for "aoss" (what the deployed
adapter, mangaassist.adapters.opensearch, sends through opensearch-py) are answered by
mangaassist_offline.embedded_store. It understands exactly the requests that adapter makes — index exists /
create / mapping, _bulk index and delete, and _search with a `terms` on doc_id, a `multi_match` (BM25) or a
`knn` query, each with an optional `terms` filter on kind — and refuses anything else with a 400 that says so.
Every created index's mapping is kept, so tests can check what the adapter asked for.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from werkzeug.wrappers import Request, Response

from mangaassist.catalog.documents import Document
from mangaassist_offline.embedded_store import EmbeddedVectorStore


@dataclass
class _Index:
    store: EmbeddedVectorStore
    mapping: dict[str, Any] = field(default_factory=dict)


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")


def _error(status: int, kind: str, reason: str) -> Response:
    return _json({"error": {"type": kind, "reason": reason}, "status": status}, status)


class LocalOpenSearch:
    def __init__(self) -> None:
        self._indexes: dict[str, _Index] = {}
        self._lock = threading.Lock()

    def attach(self, name: str, store: EmbeddedVectorStore, mapping: dict[str, Any]) -> None:
        """Serve an index built beforehand (the local stack's catalog index) as if created with `mapping`."""
        with self._lock:
            self._indexes[name] = _Index(store, mapping)

    def mapping(self, name: str) -> dict[str, Any] | None:
        index = self._indexes.get(name)
        return None if index is None else index.mapping

    def __call__(self, request: Request) -> Response:
        parts = [part for part in request.path.split("/") if part]
        try:
            if parts and parts[-1] == "_bulk":
                return self._bulk(request, parts[0] if len(parts) == 2 else None)
            if len(parts) == 2 and parts[1] == "_search" and request.method in ("GET", "POST"):
                return self._search(parts[0], request.get_json(force=True, silent=True) or {})
            if len(parts) == 2 and parts[1] == "_mapping" and request.method == "GET":
                index = self._indexes.get(parts[0])
                if index is None:
                    return _error(404, "index_not_found_exception", f"no such index [{parts[0]}]")
                return _json({parts[0]: {"mappings": index.mapping.get("mappings", {})}})
            if len(parts) == 1:
                return self._index_op(request, parts[0])
        except (KeyError, TypeError, ValueError) as error:
            return _error(400, "parsing_exception", f"the local stand-in could not read the request: {error}")
        return _error(400, "illegal_argument_exception",
                      f"{request.method} {request.path} is not served by the local OpenSearch stand-in")

    def _index_op(self, request: Request, name: str) -> Response:
        with self._lock:
            exists = name in self._indexes
            if request.method == "HEAD":
                return Response(status=200 if exists else 404)
            if request.method == "PUT":
                if exists:
                    return _error(400, "resource_already_exists_exception", f"index [{name}] already exists")
                self._indexes[name] = _Index(EmbeddedVectorStore(), request.get_json(force=True, silent=True) or {})
                return _json({"acknowledged": True, "shards_acknowledged": True, "index": name})
            if request.method == "DELETE":
                if not exists:
                    return _error(404, "index_not_found_exception", f"no such index [{name}]")
                del self._indexes[name]
                return _json({"acknowledged": True})
        return _error(405, "method_not_allowed", f"{request.method} /{name}")

    def _bulk(self, request: Request, default_index: str | None) -> Response:
        lines = [json.loads(line) for line in request.get_data(as_text=True).splitlines() if line.strip()]
        items: list[dict[str, Any]] = []
        position = 0
        while position < len(lines):
            action, meta = next(iter(lines[position].items()))
            name = meta.get("_index") or default_index
            index = self._indexes.get(name or "")
            if action == "delete":
                position += 1
                if index is None:
                    items.append({"delete": {"_index": name, "status": 404}})
                    continue
                removed = index.store.delete([meta["_id"]])
                items.append({"delete": {"_index": name, "_id": meta["_id"], "status": 200 if removed else 404}})
                continue
            source = lines[position + 1]
            position += 2
            if action not in ("index", "create") or index is None:
                items.append({action: {"_index": name, "status": 404 if index is None else 400}})
                continue
            try:
                doc = Document(id=source["doc_id"], kind=source["kind"], title=source["title"], text=source["text"],
                               fields=source.get("fields") or {})
                index.store.upsert([doc], [source["embedding"]])
                items.append({action: {"_index": name, "_id": doc.id, "status": 201}})
            except (KeyError, ValidationError) as error:
                items.append({action: {"_index": name, "status": 400,
                                       "error": {"type": "mapper_parsing_exception", "reason": str(error)[:200]}}})
        errors = any(next(iter(item.values()))["status"] >= 300 for item in items)
        return _json({"took": 1, "errors": errors, "items": items})

    def _search(self, name: str, body: dict[str, Any]) -> Response:
        index = self._indexes.get(name)
        if index is None:
            return _error(404, "index_not_found_exception", f"no such index [{name}]")
        size = int(body.get("size", 10))
        query = body.get("query") or {}
        if "terms" in query and "doc_id" in query["terms"]:
            ids = [doc_id for doc_id in query["terms"]["doc_id"] if index.store.get(doc_id) is not None]
            return self._hits(index, ids[:size])
        if "bool" in query:
            must = query["bool"].get("must") or []
            text = must[0]["multi_match"]["query"]
            hits = index.store.search(text, None, k=size, kinds=_kinds(query["bool"].get("filter")), mode="keyword")
            return self._hits(index, [hit.id for hit in hits])
        if "knn" in query:
            knn = query["knn"]["embedding"]
            kinds = _kinds((knn.get("filter") or {}).get("bool", {}).get("filter"))
            hits = index.store.search("", knn["vector"], k=min(size, int(knn.get("k", size))), kinds=kinds,
                                      mode="vector")
            return self._hits(index, [hit.id for hit in hits])
        return _error(400, "illegal_argument_exception",
                      f"query {sorted(query)} is not served by the local OpenSearch stand-in")

    @staticmethod
    def _hits(index: _Index, ids: list[str]) -> Response:
        hits = []
        for rank, doc_id in enumerate(ids):
            meta = index.store.get(doc_id)
            if meta is not None:
                hits.append({"_index": "local", "_id": doc_id, "_score": float(len(ids) - rank),
                             "_source": {"doc_id": doc_id, **meta}})
        return _json({"took": 1, "timed_out": False, "hits": {"total": {"value": len(hits), "relation": "eq"},
                                                              "hits": hits}})


def _kinds(filters: list[dict[str, Any]] | None) -> list[str] | None:
    for clause in filters or []:
        if "terms" in clause and "kind" in clause["terms"]:
            return list(clause["terms"]["kind"])
    return None
