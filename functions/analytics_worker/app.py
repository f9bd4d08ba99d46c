"""analytics_worker: not built yet (cost reports, capacity plans and regression runs come with later issues).

Every job fails loudly so it stays visible in the queue and its DLQ.
"""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _not_built(record: SQSRecord) -> None:
    raise NotImplementedError("analytics jobs are not built yet; the job was not run")


def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(event=event, record_handler=_not_built, processor=processor, context=context)
