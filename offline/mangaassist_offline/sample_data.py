"""Sample orders for the local stack and a deployment's `mangaassist seed` (made-up data; see data/README.md)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any


@cache
def orders() -> dict[str, dict[str, Any]]:
    raw_orders = json.loads(resources.files("mangaassist_offline.data").joinpath("orders.json").read_text("utf-8"))
    return {raw["order_id"]: raw for raw in raw_orders}
