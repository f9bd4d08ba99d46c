"""analytics_worker: analytics jobs from SQS (cost reports, planning) -> results in S3, status in DynamoDB.

Partial batch failures: only a message whose job hit an infrastructure error (DynamoDB, S3) is reported as
failed, so SQS redelivers it; an invalid job is marked FAILED with its reason and not retried
(see mangaassist.jobs.worker).
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from mangaassist.jobs.worker import default_worker

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    worker = default_worker()

    def record_handler(record: SQSRecord) -> None:
        remaining = context.get_remaining_time_in_millis() if context is not None else None
        worker.handle(record.message_id, record.body, remaining)

    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
