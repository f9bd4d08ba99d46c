"""session_writer: SQS batch of turn records -> DynamoDB BatchWriteItem, partial failures reported."""

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from boto3.dynamodb.types import TypeSerializer

from mangaassist.adapters import aws
from mangaassist.chat.session_writes import parse_record, write_turns
from mangaassist.lambda_task import prime
from mangaassist.settings import settings

processor = BatchProcessor(event_type=EventType.SQS)
_serializer = TypeSerializer()


def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    parsed: dict[str, dict[str, Any]] = {}

    def record_handler(record: SQSRecord) -> None:
        item = parse_record(record.body)  # a malformed record fails alone
        parsed[record.message_id] = {key: _serializer.serialize(value) for key, value in item.items()}

    with processor(records=event["Records"], handler=record_handler):
        processor.process()
    response = processor.response()
    failed = write_turns(aws.client("dynamodb"), settings().require("sessions_table"), parsed) if parsed else set()
    response["batchItemFailures"] += [{"itemIdentifier": message_id} for message_id in sorted(failed)]
    return response

prime(lambda: aws.client("dynamodb"))
