"""Ingestion: documents go to the embeddings queue; embedding_worker embeds them in batches and indexes them."""

from __future__ import annotations

import json
from collections.abc import Sequence

from mangaassist.adapters.embeddings import Embedder
from mangaassist.adapters.opensearch import VectorStore
from mangaassist.catalog.documents import Document

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


