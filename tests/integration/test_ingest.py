"""`mangaassist ingest`: documents validated all-or-nothing, then sent to the embeddings queue."""

from __future__ import annotations

import json

import pytest

from mangaassist.catalog.documents import Document
from mangaassist_local.understand import IngestError, ingest_documents, read_documents

pytestmark = pytest.mark.integration


def drain(local_aws) -> list[dict]:
    sqs = local_aws.client("sqs")
    url = local_aws.template.queue_url("EmbeddingsQueue", local_aws.endpoint)
    bodies = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages"):
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_jsonl_documents_reach_the_embeddings_queue(local_aws, tmp_path):
    drain(local_aws)
    docs = [{"id": f"series:demo-{n}", "kind": "series", "title": f"Demo {n}", "text": f"demo text {n}"}
            for n in range(12)]
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in docs))
    assert ingest_documents(str(path), False, local_aws.endpoint) == 12  # two SendMessageBatch calls
    received = drain(local_aws)
    assert sorted(Document.model_validate(b).id for b in received) == sorted(d["id"] for d in docs)


def test_one_bad_document_stops_the_whole_file_with_its_place(local_aws, tmp_path):
    drain(local_aws)
    path = tmp_path / "docs.json"
    path.write_text(json.dumps([{"id": "series:ok", "kind": "series", "title": "OK", "text": "fine"},
                                {"id": "Bad Id", "kind": "series", "title": "", "text": "x"}]))
    with pytest.raises(IngestError, match="document 2"):
        ingest_documents(str(path), False, local_aws.endpoint)
    assert drain(local_aws) == []  # nothing half-sent


def test_unreadable_files_are_clear_errors(tmp_path):
    with pytest.raises(IngestError, match="cannot read"):
        read_documents(tmp_path / "missing.jsonl")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(IngestError, match="neither a JSON array nor JSON lines"):
        read_documents(tmp_path / "bad.json")
