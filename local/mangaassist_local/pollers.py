"""SQS event source mappings with Lambda's semantics, read from template.yaml.

For every function event of Type SQS a thread polls the queue on the local AWS
endpoint, gathers a batch (BatchSize, MaximumBatchingWindowInSeconds), invokes
the handler in-process with the Lambda SQS event and deletes what succeeded:

- without ReportBatchItemFailures, a successful invocation deletes the batch;
- with it, every message not named in batchItemFailures[].itemIdentifier is
  deleted; a response Lambda would reject (unknown or empty identifiers, not an
  object) fails the whole batch;
- a function error deletes nothing: the batch reappears after the queue's
  visibility timeout, and the queue's RedrivePolicy (applied by moto on receive,
  as SQS does) moves a message to its DLQ after maxReceiveCount receives.

One thread per mapping: ScalingConfig.MaximumConcurrency is not modelled.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config

from mangaassist_local.lambda_runtime import Runtime, TooManyRequestsError
from mangaassist_local.template import Template

log = logging.getLogger("mangaassist_local.pollers")

MAX_RECEIVE = 10  # ReceiveMessage's own limit per call
WAIT_SECONDS = 1  # short long-polls keep stop() quick
WINDOW_POLL_SECONDS = 0.25  # how often a batching window shorter than a second looks for more messages


@dataclass(frozen=True)
class SqsMapping:
    function: str  # logical id of the consumer
    event: str  # name of the Events entry
    queue: str  # logical id of the queue
    queue_arn: str
    batch_size: int
    window_seconds: float
    report_failures: bool

    @property
    def name(self) -> str:
        return f"{self.function}.{self.event}"


def sqs_mappings(template: Template) -> list[SqsMapping]:
    """The enabled SQS event source mappings declared in the template."""
    queues_by_arn = {template.arn(name): name for name in template.of_type("AWS::SQS::Queue")}
    found: list[SqsMapping] = []
    for function, res in template.of_type("AWS::Serverless::Function").items():
        for event, spec in (res.get("Properties", {}).get("Events") or {}).items():
            if spec.get("Type") != "SQS":
                continue
            props = spec.get("Properties", {})
            if template.resolve(props.get("Enabled", True)) in (False, "false", "False"):
                continue
            arn = str(template.resolve(props["Queue"]))
            if arn not in queues_by_arn:
                log.warning("%s.%s: queue %s is not declared in the template; not polled", function, event, arn)
                continue
            found.append(SqsMapping(
                function=function, event=event, queue=queues_by_arn[arn], queue_arn=arn,
                batch_size=int(props.get("BatchSize", 10)),
                window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                report_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or []),
            ))
    return found


def failed_message_ids(payload: Any, message_ids: set[str]) -> set[str] | None:
    """Message ids a ReportBatchItemFailures response names as failed; None when Lambda would reject it.

    Lambda's rules: a null or empty response, or a null or empty batchItemFailures,
    is complete success; an itemIdentifier that is missing, empty, or not in the
    batch makes the whole batch a failure.
    """
    if payload is None:
        return set()
    if not isinstance(payload, dict):
        return None
    failures = payload.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return None
    failed: set[str] = set()
    for entry in failures:
        identifier = entry.get("itemIdentifier") if isinstance(entry, dict) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            return None
        failed.add(identifier)
    return failed


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """boto3's MessageAttributeValue in the Lambda event's lowerCamel shape (binary as base64)."""
    out: dict[str, Any] = {"stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        out["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return out


class SqsPollers:
    def __init__(self, runtime: Runtime, template: Template, endpoint: str,
                 functions: Iterable[str] | None = None) -> None:
        """`functions` (logical ids) limits the pollers to those consumers; None polls every mapping."""
        self.runtime = runtime
        self.template = template
        self.endpoint = endpoint
        wanted = None if functions is None else set(functions)
        self.mappings = [m for m in sqs_mappings(template) if wanted is None or m.function in wanted]
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}  # mapping name -> messages held by its poller
        self._urls: dict[str, str] = {}

    def _client(self) -> Any:
        session = boto3.session.Session(region_name=self.template.region)
        # The local endpoint accepts any credentials; don't fail where none are configured.
        credentials = {} if session.get_credentials() else {"aws_access_key_id": "local",
                                                             "aws_secret_access_key": "local"}
        return session.client("sqs", endpoint_url=self.endpoint,
                              config=Config(read_timeout=WAIT_SECONDS + 30, retries={"max_attempts": 3}),
                              **credentials)

    def _queue_url(self, client: Any, queue: str) -> str:
        if queue not in self._urls:
            self._urls[queue] = client.get_queue_url(QueueName=self.template.physical_name(queue))["QueueUrl"]
        return self._urls[queue]

    # -- lifecycle ------------------------------------------------------------------
    def start(self) -> None:
        if self._threads:
            raise RuntimeError("pollers already started")
        self._stop.clear()
        for mapping in self.mappings:
            thread = threading.Thread(target=self._run, args=(mapping,), name=f"sqs-{mapping.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("polling %s", ", ".join(f"{m.queue} -> {m.function}" for m in self.mappings) or "no queues")

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    def drain(self, timeout: float) -> bool:
        """Wait until every mapped queue is empty (visible, in flight, delayed) and no batch is held."""
        client = self._client()
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            # Two idle looks in a row: a poller may be between receiving and marking its batch.
            quiet = quiet + 1 if self._idle(client) else 0
            if quiet >= 2:
                return True
            time.sleep(0.1)
        return False

    def _idle(self, client: Any) -> bool:
        with self._lock:
            if any(self._in_flight.values()):
                return False
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        for queue in {m.queue for m in self.mappings}:
            attributes = client.get_queue_attributes(QueueUrl=self._queue_url(client, queue),
                                                     AttributeNames=names)["Attributes"]
            if any(int(attributes.get(name, 0)) for name in names):
                return False
        return True

    # -- one mapping ----------------------------------------------------------------
    def _hold(self, mapping: SqsMapping, count: int) -> None:
        with self._lock:
            self._in_flight[mapping.name] = count

    def _run(self, mapping: SqsMapping) -> None:
        client = self._client()
        while not self._stop.is_set():
            try:
                url = self._queue_url(client, mapping.queue)
                messages = self._collect(client, url, mapping)
                if messages and self._stop.is_set():
                    self._release(client, url, messages)
                elif messages:
                    self._process(client, url, mapping, messages)
            except Exception:  # a poller outlives any one failure, as the managed service does
                log.exception("%s: polling failed; retrying", mapping.name)
                self._stop.wait(1)
            finally:
                self._hold(mapping, 0)

    def _collect(self, client: Any, url: str, mapping: SqsMapping) -> list[dict[str, Any]]:
        """One batch: up to BatchSize messages, waiting at most the batching window after the first."""
        messages: list[dict[str, Any]] = []
        deadline: float | None = None
        while not self._stop.is_set() and len(messages) < mapping.batch_size:
            wait = WAIT_SECONDS
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                wait = WAIT_SECONDS if remaining >= WAIT_SECONDS else 0
            received = client.receive_message(
                QueueUrl=url, MaxNumberOfMessages=min(mapping.batch_size - len(messages), MAX_RECEIVE),
                WaitTimeSeconds=wait, AttributeNames=["All"], MessageAttributeNames=["All"],
            ).get("Messages", [])
            if received and not messages:
                deadline = time.monotonic() + mapping.window_seconds
            # A visibility timeout shorter than the window lets a message come back within one batch:
            # keep it once, with its newest receipt handle (the one a delete needs).
            held = {m["MessageId"]: i for i, m in enumerate(messages)}
            for message in received:
                if message["MessageId"] in held:
                    messages[held[message["MessageId"]]] = message
                else:
                    held[message["MessageId"]] = len(messages)
                    messages.append(message)
            self._hold(mapping, len(messages))
            if messages and mapping.window_seconds <= 0:
                break  # no window: invoke with whatever one receive returned, as Lambda does
            if not received and wait == 0:
                # Inside a sub-second window SQS cannot long-poll (WaitTimeSeconds is whole seconds): look again
                # a few times a second, not continuously, so an open window costs the stack little CPU.
                self._stop.wait(min(WINDOW_POLL_SECONDS, remaining))
        return messages

    def _record(self, mapping: SqsMapping, message: dict[str, Any]) -> dict[str, Any]:
        record = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {name: _message_attribute(value)
                                  for name, value in message.get("MessageAttributes", {}).items()},
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": mapping.queue_arn,
            "awsRegion": self.template.region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        return record

    def _process(self, client: Any, url: str, mapping: SqsMapping, messages: list[dict[str, Any]]) -> None:
        try:
            result = self.runtime.invoke(mapping.function, {"Records": [self._record(mapping, m) for m in messages]})
        except TooManyRequestsError as error:  # Lambda leaves the batch on the queue and tries again later
            log.warning("%s: throttled (%s); the batch of %d returns after the visibility timeout", mapping.name,
                        error, len(messages))
            return
        if result.error:
            log.error("%s: function error on a batch of %d; it returns after the visibility timeout: %s",
                      mapping.name, len(messages), json.dumps(result.payload, ensure_ascii=False, default=str))
            return
        failed: set[str] | None = set()
        if mapping.report_failures:
            failed = failed_message_ids(result.payload, {m["MessageId"] for m in messages})
            if failed is None:
                log.error("%s: invalid batchItemFailures response, the whole batch failed: %s", mapping.name,
                          json.dumps(result.payload, ensure_ascii=False, default=str)[:1000])
                return
            if failed:
                log.warning("%s: %d of %d messages failed", mapping.name, len(failed), len(messages))
        self._delete(client, url, [m for m in messages if m["MessageId"] not in (failed or set())])

    @staticmethod
    def _delete(client: Any, url: str, messages: list[dict[str, Any]]) -> None:
        for start in range(0, len(messages), MAX_RECEIVE):
            chunk = messages[start:start + MAX_RECEIVE]
            response = client.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)])
            for failure in response.get("Failed", []):
                log.error("could not delete message %s: %s", chunk[int(failure["Id"])]["MessageId"],
                          failure.get("Message"))

    @staticmethod
    def _release(client: Any, url: str, messages: list[dict[str, Any]]) -> None:
        """Stopping with a batch in hand: make it visible again instead of waiting out its timeout."""
        for start in range(0, len(messages), MAX_RECEIVE):
            chunk = messages[start:start + MAX_RECEIVE]
            client.change_message_visibility_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(chunk)])
