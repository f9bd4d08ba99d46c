"""Which facts an answer states, and whether its sources' texts support them.

One function, `ground`, checks an answer against source texts: the Validate state runs it on the texts of the
retrieved records (`source_texts`), `mangaassist validate` on the texts it is given. Shared by the confidence
score (share of supported claims) and the validator (an unsupported claim fails the answer). Claims: titles,
volumes, prices (for the title they are stated for), other currencies, "free", discounts, stock, order ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from mangaassist.catalog.store import catalog, policies
from mangaassist.reply import amounts
from mangaassist.text import find_order_ids, find_titles, find_volumes
from mangaassist.textnorm import normalize
from mangaassist.turn import SourceRef

# A stock claim: "12 in stock", "3 copies left", 「在庫は12冊」. A bare "1冊" is a unit ("1冊528円"), not stock.
_STOCK = re.compile(r"(\d+)\s*(?:copies|units)?\s*(?:in stock|left)|在庫(?:は|が)?\s*(\d+)")


@dataclass(frozen=True)
class SourceText:
    """A source as the grounding check reads it: an id and its text."""

    id: str
    text: str


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


def _names(series_id: object, fallback: str) -> str:
    series = catalog().get(str(series_id))
    return f"{series.title_en} ({series.title_ja})" if series else fallback


def source_text(source: SourceRef) -> SourceText:
    """The text of a retrieved record: what it states, in words the grounding reader understands."""
    facts = dict(source.facts)
    parts: list[str] = []
    if source.kind == "product":
        volume = facts.pop("volume", None)
        name = _names(facts.pop("series_id", ""), source.title)
        parts.append(f"{name} vol. {volume}" if volume is not None else name)
        if (price := facts.pop("price_jpy", None)) is not None:
            parts.append(f": ¥{price} each")
        if (stock := facts.pop("stock", None)) is not None:
            parts.append(f"; {stock} in stock")
    elif source.kind == "series":
        parts.append(_names(source.id, source.title))
        if (price := facts.pop("price_jpy", None)) is not None:
            parts.append(f": ¥{price} per volume")
        if (volumes := facts.pop("volumes", None)) is not None:
            parts.append(f"; {volumes} volumes")
        if (series := catalog().get(source.id)) is not None:  # the record's own text, in both languages
            parts.append(f".\n{series.synopsis_en}\n{series.synopsis_ja}")
    elif source.kind == "policy":
        policy = policies().get(source.id)
        parts.append(f"{policy.title_en}. {policy.body_en}\n{policy.title_ja}。{policy.body_ja}" if policy
                     else f"{source.title}. {source.snippet}")
    else:  # order
        parts.append(f"Order {source.id}")
        if source.snippet:
            parts.append(f". Items: {source.snippet}")
    rest = "; ".join(f"{key.replace('_', ' ')}: {value}" for key, value in facts.items() if value not in (None, ""))
    if rest:
        parts.append(f".\n{rest}")
    if source.snippet and (source.kind == "product" or (source.kind == "series" and source.id not in catalog())):
        parts.append(f".\n{source.snippet}")
    return SourceText(id=f"{source.kind}:{source.id}", text="".join(parts))


def source_texts(sources: list[SourceRef]) -> list[SourceText]:
    return [source_text(source) for source in sources]


@dataclass(frozen=True)
class _Facts:
    titles: frozenset[str]
    volumes: frozenset[int]
    stocks: frozenset[int]
    money: tuple[amounts.Amount, ...]
    offers: amounts.Offers


@lru_cache(maxsize=2048)  # the same catalog records and policies come back turn after turn
def _facts(folded: str) -> _Facts:
    """What one source text states."""
    titles = frozenset(find_titles(folded))
    return _Facts(titles=titles, volumes=frozenset(find_volumes(folded)),
                  stocks=frozenset(int(next(g for g in m.groups() if g)) for m in _STOCK.finditer(folded)),
                  money=amounts.amounts(folded, titles, source=True), offers=amounts.offers(folded))


def ground(answer: str, texts: list[SourceText]) -> Grounding:
    """The answer's claims, and which of them no source text supports."""
    folded = normalize(answer)
    facts = [_facts(normalize(t.text)) for t in texts]
    series_ids = {sid for f in facts for sid in f.titles}
    volumes_named = {v for f in facts for v in f.volumes}
    volume_counts = [catalog()[sid].volumes for sid in series_ids if sid in catalog()]
    stocks = {stock for f in facts for stock in f.stocks}
    order_ids = {oid for t in texts for oid in find_order_ids(t.text)}
    source_amounts = [a for f in facts for a in f.money]
    source_offers = [f.offers for f in facts]

    result = Grounding()

    def claim(name: str, is_supported: bool) -> None:
        result.claims.append(name)
        if not is_supported:
            result.unsupported.append(name)

    for series_id in find_titles(answer):
        claim(f"title:{series_id}", series_id in series_ids)
    for volume in find_volumes(answer):
        # A volume is supported if a source names it or some source's series has that many volumes.
        claim(f"volume:{volume}", volume in volumes_named or any(volume <= count for count in volume_counts))
    for amount in amounts.amounts(folded):
        claim(amount.claim, amounts.supported(amount, source_amounts))
    stated = amounts.offers(folded)
    for percent in sorted(stated.percents):
        claim(f"discount:{percent}%", any(percent in o.percents for o in source_offers))
    if stated.discount and not stated.percents:
        claim("discount", any(o.discount for o in source_offers))
    for match in _STOCK.finditer(folded):
        stock = int(next(g for g in match.groups() if g))
        claim(f"stock:{stock}", stock in stocks)
    for order_id in find_order_ids(answer):
        claim(f"order:{order_id}", order_id in order_ids)
    return result


def check(answer: str, sources: list[SourceRef]) -> Grounding:
    """`ground` on the retrieved records' texts: what the Validate state and the confidence score run."""
    return ground(answer, source_texts(sources))
