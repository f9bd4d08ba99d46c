"""The semantic cache's entity guard: what two questions must share before their embeddings are compared.

Embeddings merge "volume 105" and "volume 106", Japan and Korea, the regular and the special edition; a
cached answer is only reused under the same guard: the task, the reply language, the resolved series and
volumes, every number in the message, and the named editions, countries or regions, spoiler preference,
genres/audiences, authors and payment or delivery services. The key is a hash of those, so one tag filter
on the vector query enforces it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cache

from mangaassist.catalog.store import catalog
from mangaassist.text import reply_language
from mangaassist.textnorm import normalize
from mangaassist.turn import Classification, Task

# Tasks whose answer depends only on the question (never the customer, never prices or stock that move).
SEMANTIC_TASKS = frozenset({Task.GREETING, Task.FAQ, Task.RECOMMENDATION, Task.SUMMARIZATION, Task.DISCUSSION,
                            Task.COMPARISON})
# Questions about one series need it resolved: two unknown titles in the same sentence frame embed alike.
_NEEDS_TITLE = frozenset({Task.SUMMARIZATION, Task.DISCUSSION, Task.COMPARISON})

# Canonical value <- the ways customers write it (matched on NFKC-casefolded text).
_EDITIONS = {
    "regular": ("regular edition", "standard edition", "tankobon", "通常版"),
    "special": ("special edition", "特装版"),
    "limited": ("limited edition", "限定版"),
    "kanzenban": ("kanzenban", "deluxe", "perfect edition", "完全版"),
    "shinsoban": ("shinsoban", "new edition", "新装版"),
    "aizoban": ("aizoban", "collector's edition", "愛蔵版"),
    "bunkoban": ("bunko", "文庫版"),
    "boxset": ("box set", "boxset", "box-set", "ボックスセット", "box"),
    "digital": ("digital", "e-book", "ebook", "kindle", "電子書籍", "電子版"),
    "english": ("english edition", "english version", "english translation", "translated", "英語版", "翻訳版"),
}
_REGIONS = {
    "okinawa": ("okinawa", "沖縄"), "islands": ("remote island", "離島"), "hokkaido": ("hokkaido", "北海道"),
    "japan": ("japan", "domestic", "日本", "国内"),
    "overseas": ("overseas", "abroad", "international", "internationally", "worldwide", "海外", "国際"),
    "us": ("usa", "u.s.", "united states", "america", "アメリカ", "米国"),
    "uk": ("uk", "united kingdom", "britain", "england", "イギリス", "英国"),
    "ca": ("canada", "カナダ"), "au": ("australia", "オーストラリア"), "nz": ("new zealand", "ニュージーランド"),
    "fr": ("france", "フランス"), "de": ("germany", "ドイツ"), "it": ("italy", "イタリア"),
    "es": ("spain", "スペイン"), "kr": ("korea", "韓国"), "cn": ("china", "中国"), "tw": ("taiwan", "台湾"),
    "hk": ("hong kong", "香港"), "sg": ("singapore", "シンガポール"), "th": ("thailand", "タイ王国", "タイへ"),
    "ph": ("philippines", "フィリピン"), "vn": ("vietnam", "ベトナム"), "id": ("indonesia", "インドネシア"),
    "in": ("india", "インド"), "br": ("brazil", "ブラジル"), "mx": ("mexico", "メキシコ"),
    "eu": ("europe", "eu", "ヨーロッパ", "欧州"),
}
_SERVICES = {
    "paypay": ("paypay",), "paypal": ("paypal",), "visa": ("visa",), "mastercard": ("mastercard",),
    "jcb": ("jcb",), "amex": ("amex", "american express", "アメックス"), "applepay": ("apple pay",),
    "googlepay": ("google pay",), "card": ("credit card", "クレジットカード", "クレカ"),
    "konbini": ("convenience store", "konbini", "コンビニ"), "cod": ("cash on delivery", "代引", "代金引換"),
    "bank": ("bank transfer", "銀行振込", "振込"), "yamato": ("yamato", "ヤマト"),
    "japanpost": ("japan post", "日本郵便"),
    "ems": ("ems",), "epacket": ("epacket", "eパケット"), "sagawa": ("sagawa", "佐川"),
    "points": ("point", "ポイント"), "giftwrap": ("gift wrap", "gift-wrap", "gift wrapping", "ラッピング"),
}
_AUDIENCES = {
    "kids": ("kid", "child", "children", "子供", "子ども", "小学生", "8-year-old", "year-old"),
    "beginner": ("beginner", "first manga", "new to manga", "初心者", "初めて"),
    "adult": ("adult", "大人"), "teen": ("teen", "中学生", "高校生"),
}
_GENRES_JA = {"恋愛": "romance", "ラブコメ": "romance", "ホラー": "horror", "怖い": "horror", "スポーツ": "sports",
              "ファンタジー": "fantasy", "ミステリー": "mystery", "推理": "mystery", "料理": "cooking",
              "グルメ": "cooking", "歴史": "historical", "時代": "historical", "日常": "slice-of-life",
              "音楽": "music", "学園": "school", "冒険": "adventure", "コメディ": "comedy", "ギャグ": "comedy",
              "笑え": "comedy", "バトル": "action", "アクション": "action", "sf": "sci-fi", "少年": "shonen",
              "少女": "shojo", "青年": "seinen", "女性向け": "josei", "感動": "drama", "泣け": "drama",
              "サスペンス": "thriller", "心理": "psychological", "超能力": "supernatural", "妖怪": "supernatural"}
_GENRES_EN = {"scary": "horror", "funny": "comedy", "romantic": "romance", "sad": "drama",
              "sci fi": "sci-fi", "science fiction": "sci-fi", "shounen": "shonen", "shoujo": "shojo",
              "food": "cooking", "detective": "mystery", "sport": "sports"}
_SPOILER_AVOID = ("no spoiler", "without spoiler", "spoiler-free", "spoiler free", "avoid spoiler", "don't spoil",
                  "dont spoil", "do not spoil", "not spoil", "ネタバレなし", "ネタバレ無し", "ネタバレしない",
                  "ネタバレせず", "ネタバレ抜き", "ネタバレ禁止", "ネタバレは避け", "ネタバレはなし", "ネタバレ厳禁")
_SPOILER_ALLOW = ("spoilers ok", "spoilers are ok", "spoilers are fine", "spoilers fine", "with spoilers",
                  "full spoiler", "spoilers welcome", "spoil it", "spoil the ending", "i don't mind spoilers",
                  "ネタバレあり", "ネタバレ有り", "ネタバレok", "ネタバレしても", "ネタバレ込み", "ネタバレ歓迎",
                  "ネタバレ大丈夫", "ネタバレ構わ", "ネタバレでも")
_DIGITS = re.compile(r"\d+")
_KATAKANA = re.compile(r"[\u30a0-\u30ff]")


@dataclass(frozen=True)
class Guard:
    """What a semantic hit must match exactly; `key` is its hash (the vector query's tag filter)."""

    parts: dict[str, object]

    @property
    def key(self) -> str:
        blob = json.dumps(self.parts, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


@cache  # hundreds of catalog names: more than re's own cache of compiled patterns holds
def _pattern(name: str, whole_katakana: bool = False) -> re.Pattern[str]:
    folded = normalize(name)
    if folded.isascii():
        return re.compile(rf"(?<![a-z0-9]){re.escape(folded)}(?:e?s)?(?![a-z0-9])")  # a plural counts too
    if not whole_katakana:  # a word inside a compound counts (ラッピング in ギフトラッピング)
        return re.compile(re.escape(folded))
    # A place name must not sit inside a longer katakana word (タイ in タイトル).
    before = r"(?<![\u30a0-\u30ff])" if _KATAKANA.match(folded[0]) else ""
    after = r"(?![\u30a0-\u30ff])" if _KATAKANA.match(folded[-1]) else ""
    return re.compile(before + re.escape(folded) + after)


@cache
def _table(name: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
    tables: dict[str, dict[str, tuple[str, ...]]] = {
        "editions": _EDITIONS, "regions": _REGIONS, "services": _SERVICES, "audiences": _AUDIENCES,
    }
    if name in tables:
        return tuple((value, _pattern(w, whole_katakana=name == "regions")) for value, words in tables[name].items()
                     for w in words)
    if name == "genres":
        vocabulary = {g for s in catalog().values() for g in (*s.genres, s.demographic)}
        pairs = [(g, g) for g in vocabulary] + list(_GENRES_JA.items()) + list(_GENRES_EN.items())
        # English words may carry a plural ("romances", "mysteries" are rare; "sports" is in the vocabulary).
        return tuple((genre, _pattern(word)) for word, genre in pairs)
    if name == "authors":
        names = {(n, s.author) for s in catalog().values() for n in (s.author, s.author_ja) if n and len(n) >= 3}
        return tuple((author, _pattern(n)) for n, author in names)
    raise KeyError(name)


def _found(table: str, folded: str) -> list[str]:
    if table == "regions":  # 日本語 is a language and 日本郵便 a carrier, not the region Japan
        folded = folded.replace("日本語", "").replace("日本郵便", "")
    return sorted({value for value, pattern in _table(table) if pattern.search(folded)})


def spoiler_preference(folded: str) -> str:
    if any(p in folded for p in _SPOILER_AVOID):
        return "avoid"
    if any(p in folded for p in _SPOILER_ALLOW):
        return "allow"
    return "mentioned" if "spoil" in folded or "ネタバレ" in folded else "none"


def guard_for(classification: Classification, message: str, locale: str | None) -> Guard | None:
    """The guard of a question the semantic cache may answer, or None when it must not (its task depends on
    the customer, prices or stock; it names an order; it is about a series we could not resolve)."""
    task = classification.task
    entities = classification.entities
    if task not in SEMANTIC_TASKS or entities.order_ids:
        return None
    if task in _NEEDS_TITLE and not entities.titles:
        return None
    folded = normalize(message)
    parts: dict[str, object] = {
        "task": task.value,
        "language": reply_language(classification.language, locale),
        "titles": sorted(entities.titles),
        "volumes": sorted(entities.volumes),
        "numbers": sorted({int(n) for n in _DIGITS.findall(folded)}),
        "editions": _found("editions", folded),
        "regions": _found("regions", folded),
        "services": _found("services", folded),
        "audiences": _found("audiences", folded),
        "genres": _found("genres", folded),
        "authors": _found("authors", folded),
        "spoilers": spoiler_preference(folded),
    }
    return Guard(parts)
