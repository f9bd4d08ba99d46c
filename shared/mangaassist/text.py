"""Language detection and entity extraction shared by Classify, Retrieve and Validate."""

from __future__ import annotations

import re
from functools import cache, lru_cache

from mangaassist.catalog.store import title_index
from mangaassist.textnorm import normalize
from mangaassist.turn import Entities, Language

_KANA = re.compile(r"[\u3040-\u30ff]")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_LATIN = re.compile(r"[A-Za-z]")
_KATAKANA = re.compile(r"[\u30a0-\u30ff]")

ORDER_ID = re.compile(r"(?<![A-Za-z0-9])MGA-\d{4}-\d{5}(?!\d)", re.IGNORECASE)
_VOLUME = re.compile(
    r"(?:(?:\bvol(?:ume)?\.?|\bv\.|\bbook|#)\s*(\d{1,3})(?!\d))"  # vol 3, volume 3, vol.3, #3
    r"|(?:第\s*(\d{1,3})\s*巻)"  # 第3巻
    r"|(?:(\d{1,3})\s*巻)",  # 3巻
    re.IGNORECASE,
)


def detect_language(text: str) -> Language:
    """ja when Japanese script dominates, en when Latin does, mixed when both carry weight.

    Catalog titles are left out of the count: "Is 進撃の巨人 good?" is English and
    "ONE PIECEの最新刊は？" is Japanese, whatever script the title is written in.
    """
    stripped = _without_titles(text)
    if _CJK.search(stripped) or _LATIN.search(stripped):
        text = stripped  # otherwise the text is only a title: judge the title itself
    cjk = len(_CJK.findall(text))
    latin = len(_LATIN.findall(text))
    if cjk == 0:
        return Language.EN
    if latin == 0 or cjk * 3 >= latin:
        # A Japanese sentence quoting an English title is still Japanese.
        return Language.JA if _KANA.search(text) or latin == 0 else Language.MIXED
    return Language.MIXED


def reply_language(language: Language, locale: str | None) -> str:
    """The language of the reply: the user's, or the locale hint when the text is mixed."""
    if language is Language.MIXED:
        return locale or "ja"
    return language.value


def message_language(message: str, locale: str | None) -> str:
    """The reply language when nothing classified the message (a fallback): from the message itself."""
    return reply_language(detect_language(message), locale)


@cache
def _title_patterns() -> list[tuple[str, re.Pattern[str], str]]:
    """(name, pattern, series id) for every catalog name, longest first."""
    patterns = []
    for name, series_id in title_index():
        if not name or (not name.isascii() and len(name) < 2):
            continue
        if name.isascii():
            # ASCII titles and aliases must match whole words: "nana" is not in "banana".
            pattern = rf"(?<![a-z0-9]){re.escape(name)}(?![a-z0-9])"
        else:
            # A katakana name must not sit inside a longer katakana word: "ナナ" is not in "バナナ".
            before = r"(?<![\u30a0-\u30ff])" if _KATAKANA.match(name[0]) else ""
            after = r"(?![\u30a0-\u30ff])" if _KATAKANA.match(name[-1]) else ""
            pattern = before + re.escape(name) + after
        patterns.append((name, re.compile(pattern), series_id))
    return patterns


@cache
def _names_by_opening() -> tuple[dict[str, list[int]], list[int]]:
    """The patterns' positions by their name's first two characters, and the one-character names (always tried)."""
    by_opening: dict[str, list[int]] = {}
    short = []
    for position, (name, _, _) in enumerate(_title_patterns()):
        if len(name) < 2:
            short.append(position)
        else:
            by_opening.setdefault(name[:2], []).append(position)
    return by_opening, short


def prepare_titles() -> None:
    """Compile the catalog's title patterns now (init-phase work: see lambda_task.prime)."""
    _names_by_opening()


# One invocation matches the same text several times (Classify and Retrieve: entities and language of the message;
# Validate: language, grounding and amounts of the answer), and sentences recur from turn to turn.
@lru_cache(maxsize=4096)
def _title_matches(folded: str) -> tuple[tuple[tuple[int, int], str], ...]:
    """Non-overlapping (span, series id) matches, longer names first.

    Only names whose first two characters occur in the text are tried (a fraction of the 1,300 names), and only
    those present as substrings pay for a regex.
    """
    by_opening, short = _names_by_opening()
    openings = {folded[i:i + 2] for i in range(len(folded) - 1)}
    candidates = sorted([*short, *(p for o in openings & by_opening.keys() for p in by_opening[o])])
    patterns = _title_patterns()
    taken: list[tuple[tuple[int, int], str]] = []
    for position in candidates:  # the patterns' order: longest name first
        name, pattern, series_id = patterns[position]
        if name not in folded:
            continue
        for match in pattern.finditer(folded):
            span = match.span()
            if not any(start < span[1] and span[0] < end for (start, end), _ in taken):
                taken.append((span, series_id))  # else: inside a longer title already matched
    return tuple(taken)


def _without_titles(text: str) -> str:
    folded = normalize(text)
    for (start, end), _ in sorted(_title_matches(folded), reverse=True):
        folded = folded[:start] + " " + folded[end:]
    return folded


def find_titles(text: str) -> list[str]:
    """Catalog series ids named in the text, in order of first mention."""
    matches = sorted(_title_matches(normalize(text)))
    return list(dict.fromkeys(series_id for _, series_id in matches))


def find_volumes(text: str) -> list[int]:
    folded = normalize(text)
    volumes = []
    for match in _VOLUME.finditer(folded):
        number = int(next(group for group in match.groups() if group))
        if number > 0 and number not in volumes:
            volumes.append(number)
    return volumes


def find_order_ids(text: str) -> list[str]:
    return list(dict.fromkeys(match.upper() for match in ORDER_ID.findall(text)))


def extract_entities(text: str) -> Entities:
    return Entities(titles=find_titles(text), volumes=find_volumes(text), order_ids=find_order_ids(text))
