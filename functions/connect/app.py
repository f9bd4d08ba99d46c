"""$connect: record the connection (API Gateway has already accepted the handshake)."""

from typing import Any

from mangaassist import aws
from mangaassist.connections import ConnectionStore


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx = event["requestContext"]
    ConnectionStore(aws.table(aws.env("CONNECTIONS_TABLE"))).add(ctx["connectionId"],
                                                                  ctx.get("identity", {}).get("sourceIp"))
    return {"statusCode": 200}
