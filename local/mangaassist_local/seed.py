"""`mangaassist seed`: load the bundled store into a deployed stack.

The catalog (one products item per series volume) and the sample orders go to
the stack's DynamoDB tables; the catalog and policies, as documents, go to its
embeddings queue (the embedding worker indexes them). The physical names come
from the CloudFormation stack's outputs. Re-running is harmless: items are put
by key, and the worker skips documents whose content did not change.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from mangaassist.catalog.store import catalog, product_id
from mangaassist_offline.documents import store_documents
from mangaassist_offline.ingest import enqueue
from mangaassist_offline.sample_data import orders

# What seed needs from the stack: (output key, what it names).
TABLE_OUTPUTS = {"products": "ProductsTableName", "orders": "OrdersTableName"}
QUEUE_OUTPUT = "EmbeddingsQueueUrl"

Progress = Callable[[str, int, int], None]  # (part, done, total)


class SeedError(Exception):
    """A problem worth one line to the user (no traceback)."""


@dataclass
class SeedReport:
    stack: str
    tables: dict[str, dict[str, Any]] = field(default_factory=dict)  # part -> {"table", "items"}
    queue: dict[str, Any] = field(default_factory=dict)  # {"url", "documents"}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The stack's outputs by key; SeedError when the stack does not exist or cannot be read."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", "")
        if "does not exist" in message:
            raise SeedError(f"stack {stack_name!r} does not exist (wrong --stack-name or --region?)") from None
        raise SeedError(f"cannot read stack {stack_name!r}: {_describe(error)}") from None
    except BotoCoreError as error:
        raise SeedError(f"cannot read stack {stack_name!r}: {error}") from None
    if not stacks:
        raise SeedError(f"stack {stack_name!r} does not exist (wrong --stack-name or --region?)")
    return {out["OutputKey"]: out["OutputValue"] for out in stacks[0].get("Outputs", [])}


def require_output(outputs: dict[str, str], key: str, stack_name: str) -> str:
    value = outputs.get(key)
    if not value:
        raise SeedError(f"stack {stack_name!r} has no output {key} (is it a MangaAssist stack, fully deployed?)")
    return value


def product_items() -> list[dict[str, Any]]:
    """One products item per series volume (the same shape the local stack seeds)."""
    return [{"productId": product_id(series.id, volume), "seriesId": series.id, "volume": volume,
             "title_en": series.title_en, "title_ja": series.title_ja, "price_jpy": series.price_jpy,
             "stock": stock}
            for series in catalog().values() for volume, stock in enumerate(series.stock, 1)]


def order_items() -> list[dict[str, Any]]:
    return [{"orderId": order["order_id"], **{k: v for k, v in order.items() if v is not None}}
            for order in orders().values()]


def sample_customers() -> list[dict[str, Any]]:
    """The customers the sample orders belong to, with their order ids (the chat page signs in as one)."""
    owned: dict[str, list[str]] = {}
    for order in orders().values():
        owned.setdefault(str(order["customer_ref"]), []).append(str(order["order_id"]))
    return [{"customer": customer, "orders": sorted(ids)} for customer, ids in sorted(owned.items())]


def clients(region: str | None, endpoint_url: str | None) -> tuple[Any, Any, Any]:
    """CloudFormation client, DynamoDB resource and SQS client from the standard AWS configuration."""
    import boto3
    from botocore.exceptions import NoRegionError

    session = boto3.session.Session(region_name=region)
    if not session.region_name:
        raise SeedError("no AWS region: pass --region or set AWS_REGION")
    kwargs = {"endpoint_url": endpoint_url} if endpoint_url else {}
    try:
        return (session.client("cloudformation", **kwargs), session.resource("dynamodb", **kwargs),
                session.client("sqs", **kwargs))
    except NoRegionError:
        raise SeedError("no AWS region: pass --region or set AWS_REGION") from None


def seed_stack(cloudformation: Any, dynamodb: Any, sqs: Any, stack_name: str,
               progress: Progress | None = None) -> SeedReport:
    """Seed the stack: `dynamodb` is a boto3 DynamoDB *resource*, the others clients.

    Every table and the queue are checked before anything is written, so a stack
    missing one of them is left untouched.
    """
    report: Progress = progress or (lambda part, done, total: None)
    outputs = stack_outputs(cloudformation, stack_name)
    tables = {part: require_output(outputs, key, stack_name) for part, key in TABLE_OUTPUTS.items()}
    queue_url = require_output(outputs, QUEUE_OUTPUT, stack_name)
    for name in tables.values():
        _check_table(dynamodb, name)
    _check_queue(sqs, queue_url)

    result = SeedReport(stack=stack_name)
    for part, items, key in (("products", product_items(), "productId"), ("orders", order_items(), "orderId")):
        name = tables[part]
        try:
            written = _put_all(dynamodb.Table(name), items, key, part, report)
        except (BotoCoreError, ClientError) as error:
            raise SeedError(f"writing to table {name} failed: {_describe(error)}") from None
        result.tables[part] = {"table": name, "items": written}

    docs = store_documents()
    try:
        queued = enqueue(sqs, queue_url, _counted(docs, lambda done: report("documents", done, len(docs))))
    except (BotoCoreError, ClientError) as error:
        raise SeedError(f"sending to the embeddings queue {queue_url} failed: {_describe(error)}") from None
    except RuntimeError as error:  # the queue refused some documents
        raise SeedError(str(error)) from None
    result.queue = {"url": queue_url, "documents": queued}
    return result


def _check_table(dynamodb: Any, name: str) -> None:
    try:
        dynamodb.meta.client.describe_table(TableName=name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            raise SeedError(f"table {name} does not exist (named by the stack's outputs)") from None
        raise SeedError(f"cannot read table {name}: {_describe(error)}") from None
    except BotoCoreError as error:
        raise SeedError(f"cannot read table {name}: {error}") from None


def _check_queue(sqs: Any, url: str) -> None:
    try:
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if "QueueDoesNotExist" in code or "NonExistentQueue" in code:
            raise SeedError(f"queue {url} does not exist (named by the stack's outputs)") from None
        raise SeedError(f"cannot read queue {url}: {_describe(error)}") from None
    except BotoCoreError as error:
        raise SeedError(f"cannot read queue {url}: {error}") from None


def _put_all(table: Any, items: list[dict[str, Any]], key: str, part: str, progress: Progress) -> int:
    """PutItem by key, 25 per BatchWriteItem (unprocessed items are retried by the batch writer)."""
    total = len(items)
    progress(part, 0, total)
    with table.batch_writer(overwrite_by_pkeys=[key]) as batch:
        for done, item in enumerate(items, 1):
            batch.put_item(Item=item)
            if done % 100 == 0 or done == total:
                progress(part, done, total)
    return total


def _counted[T](items: Iterable[T], progress: Callable[[int], None]) -> Iterator[T]:
    progress(0)
    done = 0
    for item in items:
        yield item
        done += 1
        if done % 50 == 0:
            progress(done)
    progress(done)


def _describe(error: ClientError | BotoCoreError) -> str:
    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {err.get('Message', '')}".rstrip(": ")
    return str(error)


class ProgressPrinter:
    """Progress of the long parts on `stream` (stderr): redrawn in place on a terminal, a few lines otherwise."""

    def __init__(self, stream: TextIO, every: int = 2000) -> None:
        self.stream = stream
        self.every = every
        self.tty = stream.isatty()

    def __call__(self, part: str, done: int, total: int) -> None:
        if self.tty:
            self.stream.write(f"\r{part} {done}/{total}" + ("\n" if done == total else ""))
        elif done == total or (done and done % self.every == 0):
            self.stream.write(f"{part} {done}/{total}\n")
        self.stream.flush()


def format_report(report: SeedReport) -> str:
    rows = [(part, info["table"], f"{info['items']} items") for part, info in report.tables.items()]
    rows.append(("documents", report.queue["url"], f"{report.queue['documents']} queued"))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"seeded stack {report.stack}"]
    lines += [f"  {part:<{widths[0]}}  {where:<{widths[1]}}  {count}" for part, where, count in rows]
    return "\n".join(lines)
