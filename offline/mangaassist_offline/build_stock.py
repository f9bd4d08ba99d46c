"""Regenerate the sample `stock` arrays in catalog.json.

Usage (from the repository root):

    python -m mangaassist_offline.build_stock

The stock figures are SAMPLE data. For each series, `stock[i]` is the number of
units on hand for volume i + 1, so the list always has exactly `volumes`
entries. Numbers are generated deterministically from the series id, so running
the script twice gives the same file. After changing a series' `volumes`,
re-run the script to resize its stock list.

Generation rules:
  * back volumes get 3-22 units, with roughly a 7% chance of being 0 (sold out);
  * volume 1 gets a few extra units (starter volumes sell best);
  * the newest volume always has more units than any other volume of the series
    (a lot more for ongoing series, slightly more for completed ones);
  * the fixed test fixtures in FIXTURES below are applied last.
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

CATALOG = Path(__file__).resolve().parents[2] / "shared" / "mangaassist" / "data" / "catalog.json"

# Deterministic out-of-stock cases that tests and demo conversations rely on.
# series id -> {volume number: units}; "*" means every volume of the series.
FIXTURES: dict[str, dict] = {
    "demon-slayer": {1: 0},        # popular volume 1 sold out (reprint pre-order in orders.json)
    "spy-x-family": {3: 0},        # sold out mid-series volume (reprint pre-order in orders.json)
    "one-piece": {100: 0},         # sold out milestone volume
    "honey-and-clover": {"*": 0},  # whole series sold out
}


def build_stock(series_id: str, volumes: int, status: str) -> list[int]:
    rng = random.Random(f"mangaassist-stock:{series_id}")
    stock: list[int] = []
    for vol in range(1, volumes + 1):
        units = rng.randint(3, 22)
        if vol == 1:
            units += rng.randint(4, 10)
        if vol > 1 and rng.random() < 0.07:
            units = 0
        stock.append(units)
    if volumes > 1:
        back_max = max(stock[:-1])
        bump = rng.randint(6, 16) if status == "ongoing" else rng.randint(1, 5)
        stock[-1] = back_max + bump

    fixture = FIXTURES.get(series_id, {})
    if "*" in fixture:
        stock = [fixture["*"]] * volumes
    for vol, units in fixture.items():
        if vol != "*" and 1 <= vol <= volumes:
            stock[vol - 1] = units
    return stock


def dump(catalog: list[dict]) -> str:
    text = json.dumps(catalog, ensure_ascii=False, indent=2)
    # Put lists of plain values (aliases, genres, keywords, stock) on a single line.
    # Newlines only occur between elements (newlines inside strings are escaped).
    text = re.sub(
        r"\[\n\s*([^\[\]{}]*?)\n\s*\]",
        lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]",
        text,
    )
    # Put small flat objects (e.g. order items) on a single line as well.
    text = re.sub(
        r"\{\n\s*([^\[\]{}]*?)\n\s*\}",
        lambda m: "{" + re.sub(r",\n\s*", ", ", m.group(1)) + "}",
        text,
    )
    return text + "\n"


def main() -> None:
    catalog = json.loads(CATALOG.read_text(encoding="utf-8"))
    for series in catalog:
        series["stock"] = build_stock(series["id"], series["volumes"], series["status"])
    CATALOG.write_text(dump(catalog), encoding="utf-8")
    print(f"wrote stock for {len(catalog)} series to {CATALOG}")


if __name__ == "__main__":
    main()
