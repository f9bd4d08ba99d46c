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
