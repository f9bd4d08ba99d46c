"""Token prices (SPEC §3), in USD per million tokens, as Decimal: money is never float."""

from __future__ import annotations

from decimal import Decimal

from mangaassist.turn import Target

MILLION = Decimal(1_000_000)

# (input, output) USD per 1M tokens. Provisioned Sonnet is billed per model-unit
# hour, not per token: a call on committed capacity costs nothing more, so its
# marginal per-turn cost is zero (the planning tools price the hourly commitment).
PRICES: dict[Target, tuple[Decimal, Decimal]] = {
    Target.HAIKU: (Decimal("0.25"), Decimal("1.25")),
    Target.SONNET: (Decimal("3.00"), Decimal("15.00")),
    Target.SONNET_PROVISIONED: (Decimal("0"), Decimal("0")),
    # The SageMaker endpoint is billed per instance hour; per call it costs nothing extra.
    Target.SAGEMAKER: (Decimal("0"), Decimal("0")),
    Target.CANNED: (Decimal("0"), Decimal("0")),
}


def cost_usd(target: Target, input_tokens: int, output_tokens: int) -> Decimal:
    if input_tokens < 0 or output_tokens < 0:
        raise ValueError("token counts cannot be negative")
    price_in, price_out = PRICES[target]
    return (price_in * input_tokens + price_out * output_tokens) / MILLION
