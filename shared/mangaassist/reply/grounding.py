"""Which facts an answer states, and whether the retrieved sources support them.

Shared by the confidence score (share of supported claims) and the validator
(an unsupported price, stock, volume, title or order id fails the answer).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from mangaassist.catalog.store import catalog, policies
from mangaassist.text import find_order_ids, find_titles, find_volumes
from mangaassist.textnorm import normalize
from mangaassist.turn import SourceRef

_PRICE = re.compile(r"(?:¥|jpy\s*|yen\s*)\s*(\d{1,3}(?:,\d{3})+|\d+)|(\d{1,3}(?:,\d{3})+|\d+)\s*(?:円|yen|jpy)",
                    re.IGNORECASE)
# A stock claim: "12 in stock", "3 copies left", 「在庫は12冊」. A bare "1冊" is a unit ("1冊528円"), not stock.
_STOCK = re.compile(r"(\d+)\s*(?:copies|units)?\s*(?:in stock|left)|在庫(?:は|が)?\s*(\d+)")


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


_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+|\d+")


def _policy_amounts(policy_ids: Iterable[str]) -> set[int]:
    """Every amount a retrieved policy states (shipping fees, thresholds), in either language."""
    amounts = set()
    for policy_id in policy_ids:
        policy = policies().get(policy_id)
        if policy is not None:
            text = normalize(policy.body_en + " " + policy.body_ja)
            amounts |= {int(n.replace(",", "")) for n in _NUMBER.findall(text)}
    return amounts


def check(answer: str, sources: list[SourceRef]) -> Grounding:
    folded = normalize(answer)
    series_ids = {s.id for s in sources if s.kind == "series"}
    series_ids |= {str(s.facts["series_id"]) for s in sources if s.kind == "product" and "series_id" in s.facts}
    prices = {int(price) for s in sources if (price := s.facts.get("price_jpy")) is not None}
    prices |= _policy_amounts(s.id for s in sources if s.kind == "policy")
    stocks = {int(stock) for s in sources if (stock := s.facts.get("stock")) is not None}
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
        claim(f"stock:{stock}", stock in stocks)
    for order_id in find_order_ids(answer):
        claim(f"order:{order_id}", order_id in order_ids)
    return result
