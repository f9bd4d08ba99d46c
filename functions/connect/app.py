"""$connect: record the connection (API Gateway has already accepted the handshake)."""

from typing import Any

from mangaassist.adapters import aws
from mangaassist.adapters.connections import ConnectionStore
from mangaassist.lambda_task import prime
from mangaassist.settings import settings


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = event["requestContext"]
    ConnectionStore(aws.table(settings().require("connections_table"))).add(ctx["connectionId"],
                                                                  ctx.get("identity", {}).get("sourceIp"))
    return {"statusCode": 200}

prime(lambda: aws.table(settings().require("connections_table")))
