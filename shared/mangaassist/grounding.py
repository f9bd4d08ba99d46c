"""Which facts an answer states, and whether the retrieved sources support them.

Shared by the confidence score (share of supported claims) and the validator
(an unsupported price, stock, volume, title or order id fails the answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mangaassist.store_data import catalog, normalize
from mangaassist.text import find_order_ids, find_titles, find_volumes
from mangaassist.turn import SourceRef

_PRICE = re.compile(r"(?:¥|jpy\s*|yen\s*)\s*(\d{1,3}(?:,\d{3})+|\d+)|(\d{1,3}(?:,\d{3})+|\d+)\s*(?:円|yen|jpy)",
                    re.IGNORECASE)
_STOCK = re.compile(r"(\d+)\s*(?:copies|units|in stock|left)|在庫(?:は|が)?\s*(\d+)|(\d+)\s*(?:冊|点)")


@dataclass
class Grounding:
    claims: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)

    @property
    def share(self) -> float | None:
        """Share of supported claims, or None when the answer states no checkable fact."""
        if not self.claims:
            return None
        return 1 - len(self.unsupported) / len(self.claims)


def _numbers(pattern: re.Pattern[str], text: str) -> list[int]:
    return [int(next(g for g in m.groups() if g).replace(",", "")) for m in pattern.finditer(text)]


def check(answer: str, sources: list[SourceRef]) -> Grounding:
    folded = normalize(answer)
    series_ids = {s.id for s in sources if s.kind == "series"}
    series_ids |= {str(s.facts["series_id"]) for s in sources if s.kind == "product" and "series_id" in s.facts}
    prices = {int(s.facts["price_jpy"]) for s in sources if s.facts.get("price_jpy") is not None}
    stocks = {int(s.facts["stock"]) for s in sources if s.facts.get("stock") is not None}
    order_ids = {s.id for s in sources if s.kind == "order"}
    volumes_of = {sid: catalog()[sid].volumes for sid in series_ids if sid in catalog()}

    result = Grounding()

    def claim(name: str, supported: bool) -> None:
        result.claims.append(name)
        if not supported:
            result.unsupported.append(name)

    for series_id in find_titles(answer):
        claim(f"title:{series_id}", series_id in series_ids)
    for volume in find_volumes(answer):
        # A volume is supported if some retrieved series has that many volumes.
        claim(f"volume:{volume}", any(volume <= count for count in volumes_of.values()))
    for price in _numbers(_PRICE, folded):
        # Prices may be quoted per volume or for a few volumes together.
        claim(f"price:{price}", any(price == p * n for p in prices for n in range(1, 6)))
    for stock in _numbers(_STOCK, folded):
        claim(f"stock:{stock}", stock in stocks or any(stock == count for count in volumes_of.values()))
    for order_id in find_order_ids(answer):
        claim(f"order:{order_id}", order_id in order_ids)
    return result
