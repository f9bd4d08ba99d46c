"""text.py: language detection and entity extraction (titles, volumes, order ids)."""

from __future__ import annotations

import pytest

from mangaassist.catalog.store import catalog
from mangaassist.text import (
    detect_language,
    extract_entities,
    find_order_ids,
    find_titles,
    find_volumes,
    reply_language,
)
from mangaassist.turn import Language

# --- language --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "こんにちは",
        "ワンピースの最新刊はありますか？",
        "返品はできますか？",
        "進撃の巨人",  # kanji and kana only
        "ONE PIECEの最新刊はありますか？",  # a Japanese sentence quoting an English title
        "Attack on Titanの3巻の在庫はありますか？",
        "SPY×FAMILYのあらすじを教えてください",
    ],
)
def test_japanese_text_is_ja(text: str) -> None:
    assert detect_language(text) is Language.JA


@pytest.mark.parametrize(
    "text",
    [
        "Hello",
        "Do you have One Piece volume 105 in stock?",
        "What is your return policy?",
        "ONE PIECE",
        "mga-2025-00417 status",
        "",
    ],
)
def test_text_without_japanese_script_is_en(text: str) -> None:
    assert detect_language(text) is Language.EN


@pytest.mark.parametrize(
    "text",
    [
        "漫画 review",  # kanji with no kana next to English words
    ],
)
def test_english_with_some_japanese_is_mixed(text: str) -> None:
    assert detect_language(text) is Language.MIXED


@pytest.mark.parametrize(
    "text",
    [
        "I want to buy the new 進撃 manga today please",
        "Recommend something like 鬼滅の刃 please, I loved the art",
    ],
)
def test_english_sentence_around_a_japanese_title_is_en(text: str) -> None:
    # Titles do not count towards the language: the customer wrote English, so the reply is English.
    assert detect_language(text) is Language.EN


@pytest.mark.parametrize(
    "text",
    [
        "Do you have 鬼滅の刃?",
        "Is 進撃の巨人 good?",
        "Do you have 鬼滅の刃 in stock?",
    ],
)
def test_english_sentence_quoting_a_japanese_title_is_not_ja(text: str) -> None:
    # The mirror of "a Japanese sentence quoting an English title is ja": the customer writes English.
    assert detect_language(text) in (Language.EN, Language.MIXED)


def test_reply_language_uses_locale_only_for_mixed_text() -> None:
    assert reply_language(Language.JA, "en") == "ja"
    assert reply_language(Language.EN, "ja") == "en"
    assert reply_language(Language.MIXED, "en") == "en"
    assert reply_language(Language.MIXED, None) == "ja"


# --- order ids -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Where is MGA-2025-00417?", ["MGA-2025-00417"]),
        ("MGA-2025-00417の配送状況", ["MGA-2025-00417"]),
        ("注文番号MGA-2025-00417はいつ届きますか", ["MGA-2025-00417"]),
        ("mga-2025-00417 status please", ["MGA-2025-00417"]),
        ("(MGA-2025-00417)", ["MGA-2025-00417"]),
        ("MGA-2025-00417, MGA-2025-00425 and mga-2025-00417", ["MGA-2025-00417", "MGA-2025-00425"]),
    ],
)
def test_order_ids_are_found_and_upper_cased(text: str, expected: list[str]) -> None:
    assert find_order_ids(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "MGA-2025-004171",  # one digit too many
        "XMGA-2025-00417",  # glued to a word
        "MGA-25-00417",
        "MGA-2025-0041",
        "order 2025-00417",
    ],
)
def test_malformed_order_ids_are_not_found(text: str) -> None:
    assert find_order_ids(text) == []


# --- volumes ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("vol 3", [3]),
        ("Naruto vol.7", [7]),
        ("Naruto v.7", [7]),
        ("VOL 3", [3]),
        ("volume 12", [12]),
        ("Volume 12 please", [12]),
        ("book 4", [4]),
        ("第3巻", [3]),
        ("ワンピース 第100巻", [100]),
        ("第 12 巻", [12]),
        ("3巻", [3]),
        ("呪術廻戦の3巻の在庫", [3]),
        ("１２巻", [12]),  # full-width digits
        ("#5", [5]),
        ("One Piece #5", [5]),
        ("Do you have issue #5 of Berserk?", [5]),
        ("vol 3 and volume 12", [3, 12]),
        ("vol 3, vol 3 again", [3]),
    ],
)
def test_volumes(text: str, expected: list[int]) -> None:
    assert find_volumes(text) == expected


@pytest.mark.parametrize("text", ["vol 0", "I have 3 cats", "20th Century Boys", "volume"])
def test_no_volume(text: str) -> None:
    assert find_volumes(text) == []


# --- titles ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "series_id"),
    [
        # English titles, any case
        ("Do you have Attack on Titan?", "attack-on-titan"),
        ("demon slayer volume 2", "demon-slayer"),
        ("I love NARUTO", "naruto"),
        ("Frieren", "frieren"),
        # Japanese titles
        ("進撃の巨人の3巻", "attack-on-titan"),
        ("鬼滅の刃はありますか", "demon-slayer"),
        ("葬送のフリーレンのあらすじ", "frieren"),
        # romanizations and aliases from catalog.json
        ("Shingeki no Kyojin", "attack-on-titan"),
        ("Kimetsu no Yaiba", "demon-slayer"),
        ("AoT vol. 2", "attack-on-titan"),
        ("JJK", "jujutsu-kaisen"),
        ("ワンピースの最新刊", "one-piece"),
        ("ワンピ", "one-piece"),
        ("鬼滅", "demon-slayer"),
        ("Kaguya-sama wa Kokurasetai", "kaguya-sama"),
        ("Case Closed", "detective-conan"),
        # width folding: full-width Latin
        ("ＯＮＥ ＰＩＥＣＥ", "one-piece"),
    ],
)
def test_title_resolution(text: str, series_id: str) -> None:
    assert find_titles(text) == [series_id]


def test_every_catalog_title_resolves_to_its_series() -> None:
    for series in catalog().values():
        assert series.id in find_titles(series.title_en), series.title_en
        assert series.id in find_titles(series.title_ja), series.title_ja


def test_titles_come_in_order_of_first_mention() -> None:
    assert find_titles("Compare Bleach and Naruto") == ["bleach", "naruto"]
    assert find_titles("ナルトとブリーチの違い") == ["naruto", "bleach"]


def test_longer_title_wins_over_the_title_inside_it() -> None:
    # "Demon Slayer: Kimetsu no Yaiba" contains both "Demon Slayer" and "Kimetsu no Yaiba": one series, once.
    assert find_titles("Demon Slayer: Kimetsu no Yaiba vol 1") == ["demon-slayer"]


def test_nana_is_in_the_catalog() -> None:
    assert "nana" in catalog()
    assert find_titles("Is Nana finished?") == ["nana"]


@pytest.mark.parametrize("text", ["I like banana bread", "Banana", "nanami", "bananas are great"])
def test_no_title_match_inside_another_english_word(text: str) -> None:
    assert "nana" not in find_titles(text)


@pytest.mark.parametrize("text", ["バナナ", "バナナ味のお菓子が好き"])
def test_no_title_match_inside_another_japanese_word(text: str) -> None:
    # バナナ is "banana": the series Nana (alias ナナ) must not be found in it.
    assert "nana" not in find_titles(text)


def test_short_ascii_alias_needs_a_whole_word() -> None:
    assert find_titles("the DB set") == ["dragon-ball"]
    assert find_titles("dbs") == []


def test_extract_entities_combines_all_three() -> None:
    entities = extract_entities("MGA-2025-00417: 進撃の巨人 第3巻 and AoT vol 4")
    assert entities.order_ids == ["MGA-2025-00417"]
    assert entities.titles == ["attack-on-titan"]
    assert entities.volumes == [3, 4]


def test_extract_entities_of_plain_text_is_empty() -> None:
    entities = extract_entities("hello there")
    assert (entities.titles, entities.volumes, entities.order_ids) == ([], [], [])
