"""$disconnect: forget the connection."""

from typing import Any

from mangaassist import aws
from mangaassist.connections import ConnectionStore


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ConnectionStore(aws.table(aws.env("CONNECTIONS_TABLE"))).remove(event["requestContext"]["connectionId"])
    return {"statusCode": 200}
