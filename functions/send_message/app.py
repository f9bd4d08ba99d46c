"""sendMessage (and $default): validate the frame, run the chat-turn machine, reply, record."""

import json
from typing import Any

from mangaassist import aws
from mangaassist.cache import answer_cache
from mangaassist.chat import ChatPorts, handle_frame, sync_output
from mangaassist.connections import ConnectionPoster, management_endpoint
from mangaassist.frames import decode_body
from mangaassist.sessions import DynamoHistory


def _run_turn(turn_input: dict[str, Any]) -> dict[str, Any] | None:
    response = aws.client("stepfunctions", aws.SYNC).start_sync_execution(
        stateMachineArn=aws.env("STATE_MACHINE_ARN"), input=json.dumps(turn_input, ensure_ascii=False))
    return sync_output(response)


def _record(record: dict[str, Any]) -> None:
    aws.client("sqs").send_message(QueueUrl=aws.env("SESSION_WRITES_QUEUE_URL"),
                                   MessageBody=json.dumps(record, ensure_ascii=False))


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = event["requestContext"]
    poster = ConnectionPoster(management_endpoint(ctx))
    history = DynamoHistory(aws.table(aws.env("SESSIONS_TABLE")))
    ports = ChatPorts(run_turn=_run_turn, reply=lambda frame: poster.post(ctx["connectionId"], frame),
                      history=history.recent, record=_record, cache=answer_cache())
    body, is_base64 = decode_body(event)
    handle_frame(body, is_base64, ctx["connectionId"], ports)
    return {"statusCode": 200}
