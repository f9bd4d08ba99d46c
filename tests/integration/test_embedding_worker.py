"""embedding_worker through the runtime: embeds with the local model endpoint (Titan's API) and indexes through
the deployed OpenSearch adapter, which the local stack's OpenSearch stand-in answers."""

from __future__ import annotations

import json

import pytest

from conftest import sqs_event
from mangaassist.adapters.opensearch import OpenSearchVectorStore

pytestmark = pytest.mark.integration


def _store(local_aws, name: str) -> OpenSearchVectorStore:
    return OpenSearchVectorStore.connect(local_aws.endpoint, name, 384, "ap-northeast-1")


def test_worker_creates_the_index_with_the_japanese_aware_mapping_and_indexes(local_aws, scratch_index):
    new = {"id": "series:kaiju-bakery", "kind": "series", "title": "Kaiju Bakery",
           "text": "A giant monster opens a tiny bakery in Osaka and bakes melon bread for the whole city."}
    event, ids = sqs_event([json.dumps(new), json.dumps({"id": "Not An Id", "kind": "series"})])
    result = local_aws.runtime.invoke("EmbeddingWorkerFunction", event)
    assert not result.error, result.payload
    assert result.payload == {"batchItemFailures": [{"itemIdentifier": ids[1]}]}
    mapping = local_aws.opensearch.mapping(scratch_index)
    assert mapping is not None, "the adapter created the index"
    properties = mapping["mappings"]["properties"]
    assert properties["text"]["analyzer"] == "cjk" and properties["title"]["analyzer"] == "cjk"
    assert properties["embedding"]["dimension"] == 384 and properties["embedding"]["method"]["engine"] == "faiss"
    from mangaassist_local.local_embeddings import embed

    hits = _store(local_aws, scratch_index).search("monster that bakes bread",
                                                   embed("query: monster that bakes bread"), k=3)
    assert hits[0].id == "series:kaiju-bakery"


def test_reindexing_an_unchanged_document_changes_nothing(local_aws, scratch_index):
    doc = {"id": "series:quiet-doc", "kind": "series", "title": "Quiet", "text": "a calm story about tea"}
    for _ in range(2):
        event, _ids = sqs_event([json.dumps(doc)])
        assert local_aws.runtime.invoke("EmbeddingWorkerFunction", event).payload == {"batchItemFailures": []}
    response = _store(local_aws, scratch_index)._existing(["series:quiet-doc"])
    assert len(response["series:quiet-doc"]) == 1


def test_embeddings_outage_fails_the_whole_batch_so_sqs_redelivers_it(local_aws, scratch_index, faults):
    from mangaassist_local.faults import parse_faults

    faults.set(parse_faults("embeddings=error"))
    event, _ = sqs_event([json.dumps({"id": "series:x-doc", "kind": "series", "title": "X", "text": "x"})])
    result = local_aws.runtime.invoke("EmbeddingWorkerFunction", event)
    assert result.error and result.payload["errorType"] == "EmbeddingError"
    assert local_aws.opensearch.mapping(scratch_index) is None or not _store(local_aws, scratch_index)._existing(
        ["series:x-doc"])
