"""Not found is an answer: records that tell the model what the customer asked for and does not exist.

A volume past a series' last one, a title the catalog does not carry (an order id that is not found
is order_access's marker). Each record names what was not found and carries the facts the answer may
state (the series' volume count), so a grounded answer can say so and what to do next.
"""

from __future__ import annotations

import re

from mangaassist.catalog.store import Series
from mangaassist.text import find_titles, find_volumes
from mangaassist.textnorm import normalize
from mangaassist.turn import SourceRef

# A title the catalog may not carry: quoted (『…』「…」"…"), "volume 3 of X", "Xの3巻".
_QUOTED = re.compile(r"[『「\"“]([^』」\"”]{2,60})[』」\"”]")
_VOLUME_OF = re.compile(r"\b(?:vol(?:ume)?\.?|book)\s*\d{1,3}\s+of\s+(?:the\s+)?([a-z0-9][a-z0-9'&:!,. -]{1,60}?)"
                        r"(?:\s+(?:in stock|available|manga)\b|[?.!]|$)", re.IGNORECASE)
_ASKS_FOR = re.compile(r"do you (?:have|sell|carry|stock)|in stock|available"
                       r"|ありますか|あります\?|在庫|売って|取り扱|置いて")
_JA_VOLUME = re.compile(r"^(?:すみません、?)?(.{2,40}?)の(?:第)?\s*\d{1,3}\s*巻")


def missing_volume(series: Series, volume: int) -> SourceRef:
    """A volume past the last one: the answer states how many volumes the series has."""
    return SourceRef(kind="series", id=series.id, title=f"{series.title_en} ({series.title_ja})",
                     snippet=f"The requested volume does not exist; the series has {series.volumes} volumes.",
                     facts={"role": "volume_not_found", "requested_volume": volume, "volumes": series.volumes,
                            "status": series.status, "price_jpy": series.price_jpy})


def unknown_title(message: str) -> str | None:
    """A title the customer asks the store for (a volume, stock) that is not in the catalog, or None.
    Quotes alone are not enough: 'What does "itadakimasu" mean?' names no title."""
    if not find_volumes(message) and not _ASKS_FOR.search(normalize(message)):
        return None
    for pattern in (_QUOTED, _VOLUME_OF, _JA_VOLUME):
        match = pattern.search(message.strip())
        if match:
            title = match.group(1).strip(" ,.")
            if title and not find_titles(title) and normalize(title) not in ("it", "this", "that", "the series"):
                return title
    return None


def missing_title(title: str) -> SourceRef:
    title = " ".join(re.sub(r"[{};=]", " ", title).split())[:80]  # one line, nothing that reads as a fact
    return SourceRef(kind="series", id="not-in-catalog", title=title,
                     snippet="No series with this title is in the store's catalog.",
                     facts={"role": "title_not_found", "asked_title": title})
