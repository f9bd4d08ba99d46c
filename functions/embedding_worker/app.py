"""embedding_worker: a batch of documents from the embeddings queue -> embeddings -> the vector index.

Malformed documents fail alone; documents the index rejects are reported as failed
messages (SQS redelivers them, then parks them in the DLQ). An embedding or index
outage fails the whole batch, which SQS redelivers: nothing accepted is lost.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from mangaassist.catalog.documents import Document
from mangaassist.catalog.ingest import index_documents, parse_document
from mangaassist.wiring import embedder, vector_store

processor = BatchProcessor(event_type=EventType.SQS)


def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    store = vector_store()
    if store is None:
        raise RuntimeError("no vector store configured (OPENSEARCH_ENDPOINT or VECTOR_INDEX_PATH)")
    parsed: dict[str, Document] = {}

    def record_handler(record: SQSRecord) -> None:
        parsed[record.message_id] = parse_document(record.body)

    with processor(records=event["Records"], handler=record_handler):
        processor.process()
    response = processor.response()
    failed = set(index_documents(list(parsed.values()), embedder(), store))
    response["batchItemFailures"] += [{"itemIdentifier": message_id}
                                      for message_id, doc in parsed.items() if doc.id in failed]
    return response
