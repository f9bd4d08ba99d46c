"""Sending documents to the embeddings queue, ten per SendMessageBatch (the CLI's `ingest` and `seed`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from mangaassist.catalog.documents import Document
from mangaassist.catalog.ingest import BATCH


def batches(docs: Iterable[Document], size: int = BATCH) -> Iterator[list[Document]]:
    batch: list[Document] = []
    for doc in docs:
        batch.append(doc)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def enqueue(sqs: Any, queue_url: str, docs: Iterable[Document]) -> int:
    """Send documents to the embeddings queue, ten per SendMessageBatch; returns how many were accepted."""
    sent = 0
    for batch in batches(docs):
        entries = [{"Id": str(n), "MessageBody": doc.model_dump_json()} for n, doc in enumerate(batch)]
        response = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        if response.get("Failed"):
            failed = ", ".join(f"{batch[int(f['Id'])].id}: {f.get('Message') or f.get('Code')}"
                               for f in response["Failed"])
            raise RuntimeError(f"the embeddings queue refused {len(response['Failed'])} documents: {failed}")
        sent += len(batch)
    return sent
