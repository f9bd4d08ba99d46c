"""Text folding and tokenisation shared by retrieval, validation and the vector-store adapters."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[a-z0-9][a-z0-9'\-]+")
_HIRAGANA_ONLY = re.compile(r"^[\u3040-\u309f]+$")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")
_STOP = {"the", "and", "for", "you", "your", "with", "what", "which", "have", "are", "can", "about", "this",
         "that", "how", "does", "any", "manga", "please", "want", "like", "some", "there", "from", "who"}
# Japanese genre words mapped onto the catalog's English genre vocabulary.
_GENRE_JA = {"恋愛": "romance", "ラブコメ": "romance", "ホラー": "horror", "スポーツ": "sports",
             "ファンタジー": "fantasy",
             "ミステリー": "mystery", "推理": "mystery", "料理": "cooking", "グルメ": "cooking", "歴史": "historical",
             "日常": "slice-of-life", "音楽": "music", "学園": "school", "冒険": "adventure", "コメディ": "comedy",
             "バトル": "action", "アクション": "action", "SF": "sci-fi", "少年": "shonen", "少女": "shojo",
             "青年": "seinen", "女性": "josei", "子供": "kodomo", "ホラー漫画": "horror", "感動": "drama"}


def normalize(text: str) -> str:
    """Fold width and case so 'ＯＮＥ ＰＩＥＣＥ' and 'one piece' compare equal."""
    # NFKC leaves typographic apostrophes alone; "I’m" and "I'm" must compare equal.
    return unicodedata.normalize("NFKC", text).replace("\u2019", "'").casefold().strip()


def has_lone_surrogate(text: str) -> bool:
    """A UTF-16 surrogate on its own (JSON's "\\ud800"): not a character, and UTF-8 cannot encode it."""
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def clean_text(text: str) -> str:
    """NFKC, without control characters (newline and tab kept) and without format characters (zero-width
    spaces and joiners, bidi overrides, BOM, soft hyphen: category Cf), which hide text from people and checks."""
    folded = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in folded if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf"))


def tokens(text: str) -> list[str]:
    folded = normalize(text)
    words = [w for w in _WORD.findall(folded) if w not in _STOP]
    for run in _CJK_RUN.findall(folded):
        # CJK bigrams; hiragana-only ones are grammar (でき, ます, すか), not content.
        words.extend(bigram for i in range(max(len(run) - 1, 1)) if not _HIRAGANA_ONLY.match(bigram := run[i : i + 2]))
    words.extend(genre for ja, genre in _GENRE_JA.items() if normalize(ja) in folded)
    return words
