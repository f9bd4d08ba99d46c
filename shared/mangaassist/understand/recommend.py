"""Recommendations by similarity to the series the customer starts from, and by the attributes asked for.

Candidates are ranked on the catalog's own fields (catalog/similarity.py), never on the words of
the question: "like Black Lagoon" is about a crime-action seinen, not about the word "black".
Each pick carries why it matches, in the customer's language, so any model can present it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from mangaassist.catalog.similarity import THEMES_CLOSE, alike, series_vectors, shared_genres, similarity, themes_alike
from mangaassist.catalog.store import Series, catalog
from mangaassist.text import extract_entities
from mangaassist.turn import HistoryItem, QueryEmbedding, SourceRef, Task
from mangaassist.understand.classify import classify
from mangaassist.understand.recommend_request import (
    AUDIENCE,
    GENRE,
    SHORT,
    SHORT_VOLUMES,
    STATUS,
    RecommendRequest,
    is_recommendation,
    parse_request,
)
from mangaassist.understand.task_model import TaskModel

PICKS = 5
MAX_PER_AUTHOR = 2
_IN_STOCK_BONUS = 0.06  # volume 1 on the shelf: the customer can start today
_ALIKE_BONUS = 1.0  # two shared genres (or one and the audience) first: the catalog's own test of "similar"
GENRE_JA = {"action": "アクション", "adventure": "冒険", "comedy": "コメディ", "drama": "ドラマ",
            "fantasy": "ファンタジー", "horror": "ホラー", "mystery": "ミステリー", "romance": "恋愛", "sci-fi": "SF",
            "slice-of-life": "日常", "sports": "スポーツ", "supernatural": "超常・怪異", "thriller": "サスペンス",
            "historical": "歴史", "psychological": "心理", "cooking": "料理", "music": "音楽", "school": "学園"}
AUDIENCE_JA = {"shonen": "少年漫画", "shojo": "少女漫画", "seinen": "青年漫画", "josei": "女性漫画",
               "kodomo": "児童漫画"}


@dataclass(frozen=True)
class Pick:
    series: Series
    score: float
    like: Series | None  # the starting series it is most like
    shared: tuple[str, ...]  # genres shared with `like`
    matched: tuple[str, ...]  # requested attributes it meets ("genre:romance", "audience")


def recommendation_request(message: str, history: Sequence[HistoryItem] = (), embedding: QueryEmbedding | None = None,
                           model: TaskModel | None = None) -> RecommendRequest | None:
    """The request when the message asks for recommendations with something to start from, else None.

    Retrieve runs beside Classify, so it asks the same classifier (plus its own "like X" cues); an order id
    or a title with a volume is a lookup, never a recommendation.
    """
    entities = extract_entities(message)
    if entities.order_ids or (entities.titles and entities.volumes):
        return None
    if not is_recommendation(message) and classify(message, embedding, model).task is not Task.RECOMMENDATION:
        return None
    request = parse_request(message, history)
    return None if request.empty else request


def in_stock(series: Series) -> bool:
    return bool(series.stock) and series.stock[0] > 0


def meets(series: Series, key: str, alternatives: frozenset[str]) -> bool:
    if key.startswith(GENRE) or key == "dark":
        return bool(alternatives & set(series.genres))
    if key == AUDIENCE:
        return series.demographic in alternatives
    if key == STATUS:
        return series.status in alternatives
    if key == SHORT:
        return series.volumes <= SHORT_VOLUMES
    return False


def _rank(request: RecommendRequest) -> list[Pick]:
    seeds = [catalog()[sid] for sid in request.seeds if sid in catalog()]
    excluded = set(request.excluded) | set(request.seeds)
    picks = []
    for series in catalog().values():
        if series.id in excluded or request.avoid & set(series.genres):
            continue
        matched = tuple(key for key, alts in request.groups.items() if meets(series, key, alts))
        score = 2.0 * len(matched)  # every requested attribute met outranks any similarity
        like = None
        if seeds:
            sims = [(similarity(seed, series), seed) for seed in seeds]
            like = max(sims, key=lambda pair: pair[0])[1]
            score += sum(sim for sim, _ in sims) / len(sims)
            score += _ALIKE_BONUS * any(alike(seed, series) for seed in seeds)
        elif request.groups:
            # Attributes only: prefer series whose genres are mostly the ones asked for.
            asked = {g for key, alts in request.groups.items() if key.startswith(GENRE) or key == "dark" for g in alts}
            score += 0.5 * len(asked & set(series.genres)) / len(series.genres) if series.genres else 0.0
        if request.avoid:  # a young reader: children's manga first, then light shonen
            score += 0.5 * (series.demographic == "kodomo") + 0.2 * bool({"comedy", "adventure"} & set(series.genres))
        score += _IN_STOCK_BONUS * in_stock(series)
        shared = tuple(shared_genres(like, series)) if like else ()
        picks.append(Pick(series, round(score, 4), like, shared, matched))
    if not seeds:
        picks = _by_typicality(picks, len(request.groups))
    picks.sort(key=lambda p: (-p.score, p.series.id))
    return picks


def _by_typicality(picks: list[Pick], wanted: int) -> list[Pick]:
    """Attributes only: among series that meet them all, the most typical of the set (closest to the
    mean of their synopsis vectors) first, rather than the alphabet deciding ties."""
    vectors = series_vectors()
    fitting = [p for p in picks if len(p.matched) == wanted]
    if vectors is None or not fitting:
        return picks
    rows = [vectors.index[p.series.id] for p in fitting if p.series.id in vectors.index]
    if not rows:
        return picks
    centroid = vectors.vectors[rows].mean(axis=0)
    centroid /= float(np.linalg.norm(centroid)) or 1.0
    typical = {p.series.id: float(vectors.vectors[vectors.index[p.series.id]] @ centroid)
               for p in fitting if p.series.id in vectors.index}
    return [replace(p, score=round(p.score + 2.0 * max(typical.get(p.series.id, 0.0) - 0.8, 0.0), 4))
            if p.series.id in typical else p for p in picks]


def recommend(request: RecommendRequest, k: int = PICKS) -> list[Pick]:
    """The top k picks, at most two by one author unless the customer named that author."""
    chosen: list[Pick] = []
    per_author: Counter[str] = Counter()
    for pick in _rank(request):
        author = pick.series.author
        if author not in request.authors and per_author[author] >= MAX_PER_AUTHOR:
            continue
        chosen.append(pick)
        per_author[author] += 1
        if len(chosen) == k:
            break
    return chosen


def _title(series: Series, ja: bool) -> str:
    return f"『{series.title_ja}』" if ja else series.title_en


def reason(pick: Pick, request: RecommendRequest, ja: bool) -> str:
    """One line on why this pick fits, from catalog fields only."""
    s = pick.series
    parts: list[str] = []
    if pick.like is not None:
        if pick.shared:
            genres = "・".join(GENRE_JA[g] for g in pick.shared) if ja else "/".join(pick.shared)
            parts.append(f"{_title(pick.like, ja)}と同じ{genres}" if ja
                         else f"shares {genres} with {pick.like.title_en}")
        if s.demographic == pick.like.demographic:
            parts.append(f"同じ{AUDIENCE_JA[s.demographic]}" if ja else f"also {s.demographic}")
        cosine = themes_alike(pick.like, s)
        if cosine is not None and cosine >= THEMES_CLOSE:
            parts.append("物語の雰囲気やテーマが近い" if ja else "a story of similar tone and themes")
    asked = [key for key in pick.matched if key.startswith(GENRE) or key == "dark"]
    if asked and pick.like is None:
        fitting = [g for g in s.genres if any(g in request.groups[key] for key in asked)]
        parts.append(("・".join(GENRE_JA[g] for g in fitting) + "作品") if ja else "/".join(fitting))
    if AUDIENCE in pick.matched and pick.like is None:
        if request.avoid and s.demographic == "kodomo":  # a young reader
            parts.append("子ども向け" if ja else "for young readers")
        elif request.avoid:
            parts.append(f"怖い・重い要素のない{AUDIENCE_JA[s.demographic]}" if ja
                         else f"a {s.demographic} series with no horror or dark themes")
        else:
            parts.append(AUDIENCE_JA[s.demographic] if ja else f"a {s.demographic} series")
    if STATUS in pick.matched:
        parts.append(("完結済み" if s.status == "completed" else "連載中") if ja else s.status)
    if SHORT in pick.matched:
        parts.append(f"全{s.volumes}巻と短め" if ja else f"a short read ({s.volumes} volumes)")
    if not in_stock(s):
        parts.append("1巻は現在在庫切れ" if ja else "volume 1 is out of stock right now")
    if not parts:
        return ""
    if ja:
        return "、".join(parts) + "。"
    text = ", ".join(parts) + "."
    return text[0].upper() + text[1:]


def pick_ref(pick: Pick, request: RecommendRequest, ja: bool) -> SourceRef:
    s = pick.series
    genres = "・".join(GENRE_JA[g] for g in s.genres) if ja else "/".join(s.genres)
    shared = "・".join(GENRE_JA[g] for g in pick.shared) if ja else "/".join(pick.shared)
    return SourceRef(kind="series", id=s.id, title=f"{s.title_en} ({s.title_ja})",
                     snippet=(s.synopsis_ja if ja else s.synopsis_en)[:160], score=pick.score,
                     facts={"role": "pick", "why": reason(pick, request, ja), "shared_genres": shared or None,
                            "genres": genres, "demographic": s.demographic, "author": s.author,
                            "status": s.status, "volumes": s.volumes, "price_jpy": s.price_jpy,
                            "in_stock": "yes" if in_stock(s) else "no"})


def asked_ref(series: Series, role: str, ja: bool) -> SourceRef:
    """A series the customer started from or has read: context for the model, never a pick."""
    genres = "・".join(GENRE_JA[g] for g in series.genres) if ja else "/".join(series.genres)
    return SourceRef(kind="series", id=series.id, title=f"{series.title_en} ({series.title_ja})",
                     facts={"role": role, "genres": genres, "demographic": series.demographic,
                            "author": series.author, "volumes": series.volumes})


def recommendation_sources(request: RecommendRequest, ja: bool, k: int = PICKS) -> list[SourceRef]:
    """The picks with their reasons, then the series asked about (marked so no model presents them)."""
    refs = [pick_ref(pick, request, ja) for pick in recommend(request, k)]
    for sid in list(dict.fromkeys([*request.seeds, *request.excluded]))[:3]:
        if sid in catalog():
            refs.append(asked_ref(catalog()[sid], "asked_about" if sid in request.seeds else "already_read", ja))
    return refs
