"""What a recommendation request asks for: series or authors to start from, series to leave out,
and attributes (genres, audience, status, length) in English or Japanese.

Titles are taken out of the text before the attribute words are matched, so "Demon Slayer"
does not ask for demons and 「恋は雨上がりのように」 does not ask for romance.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from mangaassist.catalog.store import catalog
from mangaassist.text import _without_titles, find_titles
from mangaassist.textnorm import normalize
from mangaassist.turn import HistoryItem

GENRE, AUDIENCE, STATUS, SHORT = "genre", "audience", "status", "short"
KIDS = frozenset({"kodomo", "shonen"})
NOT_FOR_KIDS = frozenset({"horror", "psychological", "thriller"})
SHORT_VOLUMES = 12

# word -> (kind, alternatives): a request is met when every kind/group it names is met by one alternative.
_G = {
    "action": ["action", "fight", "fighting", "battle", "アクション", "バトル", "格闘"],
    "adventure": ["adventure", "journey", "quest", "冒険"],
    "comedy": ["comedy", "funny", "hilarious", "gag", "laugh", "rom-com", "romcom", "ギャグ", "コメディ", "笑える",
               "ラブコメ", "笑い"],
    "drama": ["drama", "dramatic", "tearjerker", "make me cry", "sad", "emotional", "泣ける", "感動", "号泣", "切ない"],
    "fantasy": ["fantasy", "magic", "isekai", "wizard", "ファンタジー", "魔法", "異世界"],
    "horror": ["horror", "scary", "creepy", "terrifying", "ホラー", "怖い", "こわい", "恐怖"],
    "mystery": ["mystery", "detective", "whodunit", "ミステリー", "推理", "探偵", "謎解き"],
    "romance": ["romance", "romantic", "love story", "rom-com", "romcom", "恋愛", "ラブコメ", "恋", "ラブストーリー"],
    "sci-fi": ["sci-fi", "science fiction", "scifi", "space", "robot", "mecha", "cyberpunk", "dystopia", "sf",
               "ロボット", "宇宙", "近未来"],
    "slice-of-life": ["slice of life", "slice-of-life", "wholesome", "relaxing", "cozy", "cosy", "healing",
                      "iyashikei", "日常", "癒し", "ほのぼの", "まったり"],
    "sports": ["sports", "sport", "soccer", "football", "baseball", "basketball", "volleyball", "tennis", "boxing",
               "スポーツ", "サッカー", "野球", "バスケ", "バレー", "テニス", "ボクシング", "部活"],
    "supernatural": ["supernatural", "ghost", "ghosts", "yokai", "youkai", "spirits", "occult", "demons", "妖怪",
                     "幽霊", "オカルト", "怪異"],
    "thriller": ["thriller", "suspense", "suspenseful", "サスペンス", "スリラー", "ハラハラ"],
    "historical": ["historical", "history", "samurai", "feudal", "edo period", "歴史", "時代劇", "戦国", "侍", "幕末"],
    "psychological": ["psychological", "mind games", "mind-bending", "心理", "頭脳戦", "サイコ"],
    "cooking": ["cooking", "food", "chef", "gourmet", "cook", "料理", "グルメ", "ごはん"],
    "music": ["music", "musical", "band", "musician", "piano", "音楽", "バンド", "ピアノ"],
    "school": ["school", "high school", "highschool", "campus", "学園", "学校", "高校"],
}
_DARK = ["dark", "grim", "bleak", "disturbing", "ダーク", "重い", "鬱", "暗い"]
_DARK_GENRES = frozenset({"psychological", "thriller", "horror"})
_AUDIENCE = {
    "shonen": ["shonen", "shounen", "for boys", "少年漫画", "少年向け", "少年マンガ"],
    "shojo": ["shojo", "shoujo", "for girls", "少女漫画", "少女向け", "少女マンガ"],
    "seinen": ["seinen", "for men", "青年漫画", "青年向け", "青年マンガ"],
    "josei": ["josei", "for women", "女性向け", "女性漫画", "レディース"],
    "kodomo": ["kodomo"],
}
_ADULT = ["for adults", "mature", "grown-up", "grownup", "大人向け"]
_CHILD = re.compile(r"(\d{1,2})[- ]?(?:year[- ]?old|yo\b|歳|才)|\bkids?\b|\bchild(?:ren)?\b|\bmy (?:son|daughter)\b"
                    r"|子供|子ども|こども|小学生|キッズ|児童|息子|娘")
_COMPLETED = ["completed", "finished", "complete series", "already ended", "完結"]
_ONGOING = ["ongoing", "still running", "連載中"]
_SHORT = ["short", "few volumes", "quick read", "short series", "短い", "短め", "一気読み", "巻数が少ない",
          "巻数の少ない"]
_READ = re.compile(r"i(?:'ve| have)? (?:already )?read|already read|i(?:'ve| have) finished|i finished"
                   r"|read (?:all|both)|読んだ|読みました|読了|既読|読破|読み終")
_RECOMMEND = re.compile(
    r"recommend|suggest|similar|something like|anything like|(?:manga|series|books?|stuff|more|ones?) like"
    r"|if i (?:liked|like|loved|love|enjoyed)|fans? of|read next|what (?:should|can|could) i read|what to read"
    r"|i(?:'ve| have)? (?:already )?read|already read|おすすめ|オススメ|お勧め|お薦め|似て|似た|みたいな|のような"
    r"|ような作品|ような漫画|次に読む|読むべき|何を読め|何を読む|読んだ|読みました|好きな人|好きなら|好きです|読ませたい"
    r"|something for|(?:read|manga|something) for my"
)


@dataclass
class RecommendRequest:
    seeds: list[str] = field(default_factory=list)  # series ids to start from
    excluded: list[str] = field(default_factory=list)  # never a pick: named, read or already suggested
    groups: dict[str, frozenset[str]] = field(default_factory=dict)  # "genre:x" -> alternatives, "audience" -> ...
    avoid: frozenset[str] = frozenset()  # genres ruled out (a young child)
    authors: list[str] = field(default_factory=list)  # authors the customer named: their works are the seeds
    from_history: bool = False

    @property
    def empty(self) -> bool:
        return not self.seeds and not self.groups


def _has(folded: str, word: str) -> bool:
    if word.isascii():
        return re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", folded) is not None
    return word in folded


def attributes(message: str) -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """Attribute groups the message asks for, and genres to avoid; titles are ignored."""
    folded = _without_titles(message)
    groups: dict[str, frozenset[str]] = {}
    for genre, words in _G.items():
        if any(_has(folded, normalize(w)) for w in words):
            groups[f"{GENRE}:{genre}"] = frozenset({genre})
    if any(_has(folded, normalize(w)) for w in _DARK):
        groups.setdefault("dark", _DARK_GENRES)
    audiences = {aud for aud, words in _AUDIENCE.items() if any(_has(folded, normalize(w)) for w in words)}
    if any(_has(folded, normalize(w)) for w in _ADULT):
        audiences |= {"seinen", "josei"}
    avoid: frozenset[str] = frozenset()
    child = _CHILD.search(folded)
    if child and (child.group(1) is None or int(child.group(1)) <= 12):
        audiences |= KIDS
        avoid = NOT_FOR_KIDS
    elif child and int(child.group(1)) <= 17:
        audiences |= {"shonen", "shojo"}
    if audiences:
        groups[AUDIENCE] = frozenset(audiences)
    if any(_has(folded, normalize(w)) for w in _COMPLETED):
        groups[STATUS] = frozenset({"completed"})
    elif any(_has(folded, normalize(w)) for w in _ONGOING):
        groups[STATUS] = frozenset({"ongoing"})
    if any(_has(folded, normalize(w)) for w in _SHORT):
        groups[SHORT] = frozenset({"short"})
    return groups, avoid


@cache
def _author_names() -> list[tuple[str, str]]:
    """(normalized name, author field) for every catalog author and each credited person, longest first."""
    names: set[tuple[str, str]] = set()
    for series in catalog().values():
        for full in (series.author, series.author_ja):
            if not full:
                continue
            names.add((normalize(full), series.author))
            for part in re.split(r"[,・、]|\(.*?\)|（.*?）", full):
                part = normalize(re.sub(r"\((story|art)\)", "", part)).strip()
                if len(part) >= (3 if not part.isascii() else 6):
                    names.add((part, series.author))
    return sorted(names, key=lambda pair: -len(pair[0]))


def find_authors(message: str) -> list[str]:
    folded = _without_titles(message)
    found: list[str] = []
    for name, author in _author_names():
        if _has(folded, name) and author not in found:
            found.append(author)
    return found


def is_recommendation(message: str) -> bool:
    return _RECOMMEND.search(normalize(message)) is not None


def said_read(text: str) -> bool:
    return _READ.search(normalize(text)) is not None


def parse_request(message: str, history: Sequence[HistoryItem] = ()) -> RecommendRequest:
    titles = find_titles(message)
    authors = find_authors(message)
    by_author = [s.id for s in catalog().values() if s.author in authors and s.id not in titles]
    groups, avoid = attributes(message)
    request = RecommendRequest(seeds=[*titles, *by_author], excluded=list(titles), groups=groups, avoid=avoid,
                               authors=authors)
    # The session: series the customer said they read are never picks; series suggested before are not
    # repeated; a follow-up naming nothing ("what else?") starts from the series talked about last.
    last_named: list[str] = []
    for item in history:
        named = find_titles(item.text)
        if item.role == "assistant" or said_read(item.text):
            request.excluded.extend(named)
        if item.role == "user" and named:
            last_named = named
            if said_read(item.text):
                request.excluded.extend(named)
    if not request.seeds and not request.groups and last_named:
        request.seeds, request.from_history = list(last_named), True
        request.excluded.extend(last_named)
    request.excluded = list(dict.fromkeys(request.excluded))
    return request
