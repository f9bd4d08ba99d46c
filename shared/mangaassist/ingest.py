"""Ingestion: documents go to the embeddings queue; embedding_worker embeds them in batches and indexes them."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from mangaassist.documents import Document
from mangaassist.embeddings import Embedder
from mangaassist.vector_store import VectorStore

BATCH = 10  # SQS SendMessageBatch and the worker's batch size


def parse_document(body: str) -> Document:
    """One queue message body; raises (pydantic ValidationError / ValueError) for a malformed document."""
    return Document.model_validate(json.loads(body))


def index_documents(docs: Sequence[Document], embedder: Embedder, store: VectorStore) -> list[str]:
    """Embed and index; returns the ids the store could not index. Embedding errors propagate (the batch retries)."""
    if not docs:
        return []
    vectors = embedder.embed_passages([doc.text for doc in docs])
    return store.upsert(docs, vectors)


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
