"""embedding_worker through the runtime: embeds with the local model endpoint (Titan's API), indexes, reports."""

from __future__ import annotations

import json
import shutil

import pytest

from conftest import sqs_event
from mangaassist import services
from mangaassist.vector_store import EmbeddedVectorStore

pytestmark = pytest.mark.integration


@pytest.fixture
def scratch_index(local_aws, tmp_path, monkeypatch):
    """A copy of the local index, so the test's documents never reach the shared cache."""
    copy = tmp_path / "index"
    shutil.copytree(local_aws.env["VECTOR_INDEX_PATH"], copy)
    monkeypatch.setenv("VECTOR_INDEX_PATH", str(copy))
    services.vector_store.cache_clear()
    yield copy
    services.vector_store.cache_clear()


def test_worker_indexes_good_documents_and_reports_the_malformed_one(local_aws, scratch_index):
    new = {"id": "series:kaiju-bakery", "kind": "series", "title": "Kaiju Bakery",
           "text": "A giant monster opens a tiny bakery in Osaka and bakes melon bread for the whole city."}
    event, ids = sqs_event([json.dumps(new), json.dumps({"id": "Not An Id", "kind": "series"})])
    result = local_aws.runtime.invoke("EmbeddingWorkerFunction", event)
    assert not result.error, result.payload
    assert result.payload == {"batchItemFailures": [{"itemIdentifier": ids[1]}]}
    store = EmbeddedVectorStore(scratch_index)
    assert "series:kaiju-bakery" in store.hashes()
    from mangaassist_local.local_embeddings import embed

    hits = store.search("monster that bakes bread", embed("query: monster that bakes bread"), k=3, mode="vector")
    assert hits[0].id == "series:kaiju-bakery"


def test_embeddings_outage_fails_the_whole_batch_so_sqs_redelivers_it(local_aws, scratch_index, faults):
    from mangaassist_local.faults import parse_faults

    faults.set(parse_faults("embeddings=error"))
    event, _ = sqs_event([json.dumps({"id": "series:x-doc", "kind": "series", "title": "X", "text": "x"})])
    result = local_aws.runtime.invoke("EmbeddingWorkerFunction", event)
    assert result.error and result.payload["errorType"] == "EmbeddingError"
    assert "series:x-doc" not in EmbeddedVectorStore(scratch_index).hashes()
