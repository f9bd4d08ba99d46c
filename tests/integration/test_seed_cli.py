"""`mangaassist seed` against a "deployed" stack: a CloudFormation stack on the local AWS endpoint whose
outputs name the local stack's tables and embeddings queue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from mangaassist.catalog.store import catalog
from mangaassist_local.stack import REGION, LocalAws
from mangaassist_offline.documents import store_documents
from mangaassist_offline.sample_data import orders

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "mangaassist_local.cli"]
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing"}


def run(*args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_", "REDIS_URL", "STATE_MACHINE"))}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300,
                          env={**clean, **CREDENTIALS, "AWS_CONFIG_FILE": "/dev/null",
                               "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"},
                          cwd=Path(__file__).resolve().parents[2])


def create_stack(stack: LocalAws, outputs: dict[str, str]) -> str:
    """A CloudFormation stack (one SNS topic: a stack needs a resource) whose outputs are these literals."""
    name = f"seed-test-{uuid.uuid4().hex[:8]}"
    template = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
    stack.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))
    return name


def stack_outputs(stack: LocalAws, queue_url: str) -> dict[str, str]:
    return {"ProductsTableName": stack.template.physical_name("ProductsTable"),
            "OrdersTableName": stack.template.physical_name("OrdersTable"), "EmbeddingsQueueUrl": queue_url}


def seed(stack: LocalAws, name: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run("seed", "--stack-name", name, "--region", REGION, "--endpoint-url", stack.endpoint, *extra)


def count(stack: LocalAws, table: str) -> int:
    client = stack.client("dynamodb")
    return sum(page["Count"] for page in client.get_paginator("scan").paginate(TableName=table, Select="COUNT"))


def queued(stack: LocalAws, queue_url: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(value) for value in attributes["Attributes"].values())


@pytest.fixture
def queue_url(local_aws: LocalAws) -> Any:
    """A queue of this test's own, standing for the stack's embeddings queue (nothing polls it)."""
    sqs = local_aws.client("sqs")
    url = sqs.create_queue(QueueName=f"seed-test-embeddings-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    yield url
    sqs.delete_queue(QueueUrl=url)


@pytest.fixture
def reseeded(local_aws: LocalAws) -> Any:
    """The test empties the shared stack's store tables: put the local seed back whatever happens."""
    yield local_aws
    from mangaassist_local.stack import _seed_store

    if count(local_aws, local_aws.env["PRODUCTS_TABLE"]) != sum(len(s.stock) for s in catalog().values()) or \
            count(local_aws, local_aws.env["ORDERS_TABLE"]) != len(orders()):
        _seed_store(local_aws.env, None)


def test_seed_fills_the_tables_and_queues_the_documents_idempotently(reseeded: LocalAws, queue_url: str) -> None:
    local_aws = reseeded
    outputs = stack_outputs(local_aws, queue_url)
    products, orders_table = outputs["ProductsTableName"], outputs["OrdersTableName"]
    # Start from empty tables, so what is there afterwards was written by seed.
    resource = boto3.resource("dynamodb", region_name=REGION, endpoint_url=local_aws.endpoint)
    for table, key in ((products, "productId"), (orders_table, "orderId")):
        with resource.Table(table).batch_writer() as batch:
            for page in local_aws.client("dynamodb").get_paginator("scan").paginate(TableName=table):
                for item in page["Items"]:
                    batch.delete_item(Key={key: item[key]["S"]})
        assert count(local_aws, table) == 0
    name = create_stack(local_aws, outputs)
    volumes = sum(len(series.stock) for series in catalog().values())
    docs = len(store_documents())

    first = seed(local_aws, name, "--json")
    assert first.returncode == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["stack"] == name
    assert report["tables"]["products"] == {"table": products, "items": volumes}
    assert report["tables"]["orders"] == {"table": orders_table, "items": len(orders())}
    assert report["queue"] == {"url": queue_url, "documents": docs}
    assert f"products {volumes}/{volumes}" in first.stderr  # progress of the long part
    assert "Traceback" not in first.stderr

    assert count(local_aws, products) == volumes and count(local_aws, orders_table) == len(orders())
    item = resource.Table(products).get_item(Key={"productId": "one-piece#3"})["Item"]
    assert (item["seriesId"], item["volume"], item["price_jpy"]) == ("one-piece", 3, 528)
    assert item["title_en"] == "One Piece" and item["stock"] == catalog()["one-piece"].stock[2]
    order = resource.Table(orders_table).get_item(Key={"orderId": "MGA-2025-00102"})["Item"]
    assert order["status"] == "delivered" and len(order["items"]) == 3
    assert queued(local_aws, queue_url) == docs
    messages = local_aws.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    ids = {doc.id for doc in store_documents()}
    assert messages and all(json.loads(m["Body"])["id"] in ids for m in messages)

    again = seed(local_aws, name)  # the readable report this time
    assert again.returncode == 0, again.stderr
    assert f"{volumes} items" in again.stdout and f"{docs} queued" in again.stdout and products in again.stdout
    assert count(local_aws, products) == volumes and count(local_aws, orders_table) == len(orders())
    assert resource.Table(products).get_item(Key={"productId": "one-piece#3"})["Item"] == item
    assert queued(local_aws, queue_url) == 2 * docs  # sent again: the worker skips unchanged documents


def test_a_missing_stack_is_one_clear_line(local_aws: LocalAws) -> None:
    result = seed(local_aws, "no-such-stack")
    assert result.returncode == 2
    assert result.stderr.strip() == ("mangaassist seed: stack 'no-such-stack' does not exist "
                                     "(wrong --stack-name or --region?)")
    assert result.stdout == ""


def test_a_stack_without_the_outputs_is_named(local_aws: LocalAws, queue_url: str) -> None:
    outputs = stack_outputs(local_aws, queue_url)
    del outputs["OrdersTableName"]
    result = seed(local_aws, create_stack(local_aws, outputs))
    assert result.returncode == 2
    assert "has no output OrdersTableName" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_table_is_named_and_nothing_is_written(local_aws: LocalAws, queue_url: str) -> None:
    outputs = stack_outputs(local_aws, queue_url)
    outputs["ProductsTableName"] = "mangaassist-gone-products"
    result = seed(local_aws, create_stack(local_aws, outputs))
    assert result.returncode == 2
    assert result.stderr.strip() == ("mangaassist seed: table mangaassist-gone-products does not exist "
                                     "(named by the stack's outputs)")
    assert queued(local_aws, queue_url) == 0


def test_a_missing_queue_is_named(local_aws: LocalAws, queue_url: str) -> None:
    outputs = stack_outputs(local_aws, queue_url)
    gone = local_aws.endpoint + "/123456789012/mangaassist-gone-embeddings"
    outputs["EmbeddingsQueueUrl"] = gone
    result = seed(local_aws, create_stack(local_aws, outputs))
    assert result.returncode == 2
    assert f"queue {gone} does not exist" in result.stderr and "Traceback" not in result.stderr
