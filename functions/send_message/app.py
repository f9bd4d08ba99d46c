"""sendMessage (and $default): validate the frame, run the chat-turn machine, reply, record."""

import json
from typing import Any

from botocore.exceptions import ReadTimeoutError

from mangaassist.adapters import aws
from mangaassist.adapters.connections import ConnectionPoster, management_endpoint
from mangaassist.auth.principal import principal_from_event
from mangaassist.chat.conversation import ChatPorts, handle_frame, sync_output
from mangaassist.chat.limits import budget_stop, limits
from mangaassist.chat.sessions import DynamoHistory
from mangaassist.errors import TurnTimeoutError
from mangaassist.lambda_task import prime
from mangaassist.protocol import decode_body
from mangaassist.reply.cache import answer_cache
from mangaassist.settings import settings


def _run_turn(turn_input: dict[str, Any]) -> dict[str, Any] | None:
    try:
        response = aws.sync_states().start_sync_execution(
            stateMachineArn=settings().require("state_machine_arn"), input=json.dumps(turn_input, ensure_ascii=False))
    except ReadTimeoutError as error:  # waited SEND_MESSAGE_WAIT_SECONDS (mangaassist.deadlines)
        raise TurnTimeoutError(str(error)) from error
    return sync_output(response)


def _record(record: dict[str, Any]) -> None:
    aws.client("sqs").send_message(QueueUrl=settings().require("session_writes_queue_url"),
                                   MessageBody=json.dumps(record, ensure_ascii=False))


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = event["requestContext"]
    poster = ConnectionPoster(management_endpoint(ctx))
    history = DynamoHistory(aws.table(settings().require("sessions_table")))
    ports = ChatPorts(run_turn=_run_turn, reply=lambda frame: poster.post(ctx["connectionId"], frame),
                      history=history.recent, record=_record, cache=answer_cache(),
                      limits=limits(), budget=budget_stop())
    body, is_base64 = decode_body(event)
    handle_frame(body, is_base64, ctx["connectionId"], ports, principal=principal_from_event(event))
    return {"statusCode": 200}

prime(aws.sync_states, lambda: aws.client("sqs"), answer_cache, limits, budget_stop,
      lambda: aws.table(settings().require("sessions_table")))
