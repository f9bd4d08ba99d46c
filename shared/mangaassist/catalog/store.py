"""The store's sample data bundled with the layer: catalog, policies, orders.

Loaded once per process; the files are small and read-only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from mangaassist.textnorm import normalize


@dataclass(frozen=True)
class Series:
    id: str
    title_en: str
    title_ja: str
    aliases: tuple[str, ...]
    author: str
    publisher: str
    demographic: str
    genres: tuple[str, ...]
    status: str
    volumes: int
    synopsis_en: str
    synopsis_ja: str
    price_jpy: int
    stock: tuple[int, ...] = field(repr=False)
    author_ja: str = ""  # the author's name as written in Japanese

    def names(self) -> list[str]:
        return [self.title_en, self.title_ja, *self.aliases]

    def stock_of(self, volume: int) -> int | None:
        if 1 <= volume <= len(self.stock):
            return self.stock[volume - 1]
        return None


@dataclass(frozen=True)
class Policy:
    id: str
    topic: str
    title_en: str
    title_ja: str
    body_en: str
    body_ja: str
    keywords: tuple[str, ...]


def _load(name: str) -> Any:
    return json.loads(resources.files("mangaassist.data").joinpath(name).read_text("utf-8"))


@cache
def catalog() -> dict[str, Series]:
    items = {}
    for raw in _load("catalog.json"):
        raw = {**raw, "aliases": tuple(raw["aliases"]), "genres": tuple(raw["genres"])}
        raw["stock"] = tuple(raw["stock"])
        items[raw["id"]] = Series(**raw)
    return items


@cache
def policies() -> dict[str, Policy]:
    return {raw["id"]: Policy(**{**raw, "keywords": tuple(raw["keywords"])}) for raw in _load("policies.json")}


@cache
def title_index() -> list[tuple[str, str]]:
    """(normalized name, series id), longest names first so 'naruto shippuden' beats 'naruto'."""
    pairs = {(normalize(name), series.id) for series in catalog().values() for name in series.names()}
    # Very short aliases ("AoT") are only trusted as whole words; see entities.find_titles.
    return sorted(pairs, key=lambda pair: (-len(pair[0]), pair[0]))


def product_id(series_id: str, volume: int) -> str:
    return f"{series_id}#{volume}"
