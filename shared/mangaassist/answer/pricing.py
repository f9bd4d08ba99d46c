"""Token prices, in USD per million tokens, as Decimal: money is never float.

Defaults are SPEC §3's on-demand prices. The table is configuration: the
PRICE_TABLE variable (template parameter PriceTableJson) may override any tier
with {"haiku": {"input": "0.25", "output": "1.25"}, ...}.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation
from functools import cache

from mangaassist.settings import settings
from mangaassist.turn import Target

MILLION = Decimal(1_000_000)

# (input, output) USD per 1M tokens. Provisioned Sonnet is billed per model-unit
# hour, not per token: a call on committed capacity costs nothing more, so its
# marginal per-turn cost is zero (the planning tools price the hourly commitment).
# The SageMaker endpoint is billed per instance hour likewise.
DEFAULT_PRICES: dict[Target, tuple[Decimal, Decimal]] = {
    Target.HAIKU: (Decimal("0.25"), Decimal("1.25")),
    Target.SONNET: (Decimal("3.00"), Decimal("15.00")),
    Target.SONNET_PROVISIONED: (Decimal("0"), Decimal("0")),
    Target.SAGEMAKER: (Decimal("0"), Decimal("0")),
    Target.CANNED: (Decimal("0"), Decimal("0")),
}


class PriceTableError(ValueError):
    pass


def parse_price_table(text: str) -> dict[Target, tuple[Decimal, Decimal]]:
    """DEFAULT_PRICES with the overrides in `text` (JSON); a clear error for a bad table."""
    table = dict(DEFAULT_PRICES)
    if not text.strip():
        return table
    try:
        raw = json.loads(text)
        for name, price in raw.items():
            pair = (Decimal(str(price["input"])), Decimal(str(price["output"])))
            if min(pair) < 0:
                raise PriceTableError(f"negative price for {name}")
            table[Target(name)] = pair
    except (ValueError, KeyError, TypeError, AttributeError, InvalidOperation) as error:
        raise PriceTableError(f"PRICE_TABLE is not a valid price table: {error}") from None
    return table


@cache
def prices() -> dict[Target, tuple[Decimal, Decimal]]:
    return parse_price_table(settings().price_table)


def cost_usd(target: Target, input_tokens: int, output_tokens: int) -> Decimal:
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError("token counts cannot be negative")
    price_in, price_out = prices()[target]
    return (price_in * input_tokens + price_out * output_tokens) / MILLION
