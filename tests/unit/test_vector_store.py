"""The vector store adapters: the embedded index for real, the OpenSearch adapter's requests with a recording client."""

from __future__ import annotations

import pytest

from mangaassist.adapters.opensearch import OpenSearchVectorStore, content_hash, fuse
from mangaassist.catalog.documents import Document
from mangaassist_offline.documents import store_documents
from mangaassist_offline.embedded_store import EmbeddedVectorStore


def doc(doc_id: str, text: str, kind: str = "series") -> Document:
    return Document(id=doc_id, kind=kind, title=doc_id, text=text)


DOCS = [doc("series:a", "pirates sail the grand line"), doc("series:b", "a chef cooks in a dungeon"),
        doc("policy:returns", "return unopened items within 14 days", kind="policy")]
VECS = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]


def test_fuse_rewards_agreement_between_rankings():
    fused = fuse(["x", "y", "z"], ["y"])  # y is second in one ranking but found by both
    assert [h.id for h in fused] == ["y", "x", "z"]
    assert fused[0].score == pytest.approx(1 / 62 + 1 / 61, abs=1e-6)  # scores are rounded to 6 places


def test_embedded_modes_filters_and_persistence(tmp_path):
    store = EmbeddedVectorStore(tmp_path / "idx")
    assert store.upsert(DOCS, VECS) == []
    assert [h.id for h in store.search("anything", [0.0, 0.9, 0.1], k=1, mode="vector")] == ["series:b"]
    assert store.search("dungeon chef", None, k=1, mode="keyword")[0].id == "series:b"
    assert store.search("return items", [1.0, 0.0, 0.0], k=3)[0].id in {"policy:returns", "series:a"}
    assert {h.id for h in store.search("return items", [0.0, 0.0, 1.0], kinds=["series"], k=5)} <= {"series:a",
                                                                                                  "series:b"}
    reopened = EmbeddedVectorStore(tmp_path / "idx")  # another process reading what the worker wrote
    assert len(reopened) == 3 and reopened.hashes()["series:a"] == content_hash(DOCS[0])


def test_re_ingesting_unchanged_documents_changes_nothing(tmp_path):
    store = EmbeddedVectorStore(tmp_path / "idx")
    store.upsert(DOCS, VECS)
    stamp = (tmp_path / "idx" / "docs.json").stat().st_mtime_ns
    store.upsert(DOCS, VECS)
    assert (tmp_path / "idx" / "docs.json").stat().st_mtime_ns == stamp
    changed = doc("series:a", "pirates sail the grand line, now with a new synopsis")
    store.upsert([changed], [[1.0, 0.0, 0.0]])
    assert len(store) == 3 and store.hashes()["series:a"] == content_hash(changed)


def test_documents_have_stable_ids_for_the_whole_store():
    ids = [d.id for d in store_documents()]
    assert len(ids) == len(set(ids)) and "series:one-piece" in ids and "policy:returns" in ids
    with pytest.raises(ValueError):
        Document(id="One Piece", kind="series", title="x", text="y")


class RecordingClient:
    """Records what the adapter asks of opensearch-py; answers like OpenSearch would."""

    def __init__(self, existing: list[dict] | None = None, bulk_items: list[dict] | None = None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.existing = existing or []
        self.bulk_items = bulk_items
        self.indices = self

    def exists(self, index: str) -> bool:
        self.calls.append(("exists", {"index": index}))
        return False

    def create(self, index: str, body: dict) -> None:
        self.calls.append(("create", body))

    def search(self, index: str, body: dict) -> dict:
        self.calls.append(("search", body))
        if "terms" in body.get("query", {}):
            return {"hits": {"hits": self.existing}}
        return {"hits": {"hits": [{"_id": "srv1", "_source": {"doc_id": "series:a"}}]}}

    def bulk(self, body: list) -> dict:
        self.calls.append(("bulk", {"actions": body}))
        items = self.bulk_items or [{next(iter(a)): {"status": 201}} for a in body if set(a) & {"index", "delete"}]
        return {"errors": False, "items": items}


def test_opensearch_mapping_and_first_ingest():
    client = RecordingClient()
    store = OpenSearchVectorStore(client, "idx", dimensions=3)
    assert store.upsert(DOCS[:1], VECS[:1]) == []
    kinds = [name for name, _ in client.calls]
    assert kinds == ["exists", "create", "search", "bulk"]
    mapping = client.calls[1][1]["mappings"]["properties"]["embedding"]
    assert mapping["type"] == "knn_vector" and mapping["dimension"] == 3 and mapping["method"]["engine"] == "faiss"
    actions = client.calls[3][1]["actions"]
    assert actions[0] == {"index": {"_index": "idx"}}  # no custom _id: Serverless vector collections refuse them
    assert actions[1]["doc_id"] == "series:a" and actions[1]["hash"] == content_hash(DOCS[0])


def test_opensearch_skips_unchanged_and_replaces_changed_documents():
    unchanged = RecordingClient(existing=[{"_id": "srv1", "_source": {"doc_id": "series:a",
                                                                       "hash": content_hash(DOCS[0])}}])
    store = OpenSearchVectorStore(unchanged, "idx", 3)
    store._index_ready = True
    assert store.upsert(DOCS[:1], VECS[:1]) == [] and "bulk" not in [n for n, _ in unchanged.calls]
    stale = RecordingClient(existing=[{"_id": "srv1", "_source": {"doc_id": "series:a", "hash": "old"}}])
    store = OpenSearchVectorStore(stale, "idx", 3)
    store._index_ready = True
    store.upsert(DOCS[:1], VECS[:1])
    actions = stale.calls[-1][1]["actions"]
    assert actions[0] == {"delete": {"_index": "idx", "_id": "srv1"}} and actions[1] == {"index": {"_index": "idx"}}


def test_opensearch_reports_rejected_documents():
    client = RecordingClient(bulk_items=[{"index": {"status": 400, "error": {"type": "mapper_parsing_exception"}}}])
    store = OpenSearchVectorStore(client, "idx", 3)
    store._index_ready = True
    assert store.upsert(DOCS[:1], VECS[:1]) == ["series:a"]


def test_opensearch_hybrid_search_runs_bm25_and_knn_with_the_same_filter():
    client = RecordingClient()
    hits = OpenSearchVectorStore(client, "idx", 3).search("pirates", [1.0, 0.0, 0.0], k=2, kinds=["series"])
    bm25, knn = client.calls[0][1], client.calls[1][1]
    assert bm25["query"]["bool"]["filter"] == [{"terms": {"kind": ["series"]}}]
    assert knn["query"]["knn"]["embedding"]["vector"] == [1.0, 0.0, 0.0]
    assert knn["query"]["knn"]["embedding"]["filter"] == {"bool": {"filter": [{"terms": {"kind": ["series"]}}]}}
    assert [h.id for h in hits] == ["series:a"]
