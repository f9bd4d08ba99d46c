"""$disconnect: forget the connection."""

from typing import Any

from mangaassist.adapters import aws
from mangaassist.adapters.connections import ConnectionStore
from mangaassist.lambda_task import prime
from mangaassist.settings import settings


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ConnectionStore(aws.table(settings().require("connections_table"))).remove(event["requestContext"]["connectionId"])
    return {"statusCode": 200}

prime(lambda: aws.table(settings().require("connections_table")))
