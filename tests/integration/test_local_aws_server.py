"""The local AWS endpoint's HTTP server: connections are kept alive between calls, as AWS endpoints keep them."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import boto3

from mangaassist_local.stack import REGION, LocalAws


def test_calls_of_one_client_share_one_connection(local_aws: LocalAws) -> None:
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=local_aws.endpoint)
    for _ in range(5):
        headers = client.list_tables()["ResponseMetadata"]["HTTPHeaders"]
        assert headers.get("connection") != "close"
    pool = client._endpoint.http_session._manager.connection_from_url(local_aws.endpoint)
    assert pool.num_requests == 5
    assert pool.num_connections == 1  # werkzeug's development server needed five


def test_a_body_left_unread_does_not_spill_into_the_next_request(local_aws: LocalAws) -> None:
    """moto ignores the body of some requests; on a kept-alive connection those bytes must not be taken for
    the next request line."""
    address = urlsplit(local_aws.endpoint)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("GET", "/moto-api/", body=b"GET /not-a-request HTTP/1.1\r\n\r\n" * 100)
        first = connection.getresponse()
        first.read()
        connection.request("GET", "/_mangaassist/faults")
        second = connection.getresponse()
        assert second.status == 200, second.read()
        assert json.loads(second.read()) == {"previous": []}
    finally:
        connection.close()


def test_a_query_reads_its_partition_only_and_answers_as_dynamodb(local_aws: LocalAws) -> None:
    """moto's query sorted the whole table for every query (it grew with every stored turn); the stack narrows it
    to the queried partition: same items, same order, same pages, and a miss adds nothing."""
    from moto.dynamodb.models import dynamodb_backends
    from moto.dynamodb.models.table import Table

    from mangaassist_local.template import ACCOUNT

    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=local_aws.endpoint)
    name = "partition-test"
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                        AttributeDefinitions=[{"AttributeName": k, "AttributeType": t}
                                              for k, t in (("s", "S"), ("n", "N"), ("g", "S"))],
                        KeySchema=[{"AttributeName": "s", "KeyType": "HASH"},
                                   {"AttributeName": "n", "KeyType": "RANGE"}],
                        GlobalSecondaryIndexes=[{"IndexName": "by-g", "Projection": {"ProjectionType": "ALL"},
                                                 "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}]}])
    try:
        for session in ("a", "b", "c"):
            for n in (3, 1, 2, 10):
                client.put_item(TableName=name, Item={"s": {"S": session}, "n": {"N": str(n)}, "g": {"S": f"g{n % 2}"}})
        assert getattr(Table.query, "one_partition", False)
        table = dynamodb_backends[ACCOUNT][REGION].tables[name]

        def numbers(**kwargs: object) -> list[int]:
            page = client.query(TableName=name, KeyConditionExpression="s = :s",
                                ExpressionAttributeValues={":s": {"S": "b"}}, **kwargs)
            return [int(item["n"]["N"]) for item in page["Items"]]

        assert numbers() == [1, 2, 3, 10]
        assert numbers(ScanIndexForward=False, Limit=2) == [10, 3]
        assert numbers(ExclusiveStartKey={"s": {"S": "b"}, "n": {"N": "2"}}) == [3, 10]
        ranged = client.query(TableName=name, KeyConditionExpression="s = :s AND n > :n",
                              ExpressionAttributeValues={":s": {"S": "c"}, ":n": {"N": "2"}})["Items"]
        assert [int(item["n"]["N"]) for item in ranged] == [3, 10]
        missing = client.query(TableName=name, KeyConditionExpression="s = :s",
                               ExpressionAttributeValues={":s": {"S": "nobody"}})
        assert missing["Items"] == [] and len(table.items) == 3  # a miss must not add an empty partition
        by_index = client.query(TableName=name, IndexName="by-g", KeyConditionExpression="g = :g",
                                ExpressionAttributeValues={":g": {"S": "g1"}})["Items"]
        assert sorted((item["s"]["S"], int(item["n"]["N"])) for item in by_index) == [
            (s, n) for s in "abc" for n in (1, 3)]  # an index query still reads the whole table
    finally:
        client.delete_table(TableName=name)
