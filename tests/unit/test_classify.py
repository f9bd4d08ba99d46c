"""classify.py: task, language, complexity, manga-specific flag, entities.

The table holds clear-cut customer questions, each asserted on its own: a
case that fails is a misclassification by the current rules, not noise.
"""

from __future__ import annotations

import pytest

from mangaassist.turn import Language, Task
from mangaassist.understand.classify import classify

GR, FQ, PS, RC, CP, DS, OS, SM, TR, UN = (
    Task.GREETING, Task.FAQ, Task.PRODUCT_SEARCH, Task.RECOMMENDATION, Task.COMPARISON, Task.DISCUSSION,
    Task.ORDER_STATUS, Task.SUMMARIZATION, Task.TRANSLATION, Task.UNKNOWN,
)

CASES: list[tuple[str, Task]] = [
    # greeting
    ("Hello!", GR),
    ("Hi there, good morning", GR),
    ("Thank you so much!", GR),
    ("Hey! How are you today?", GR),
    ("こんにちは", GR),
    ("こんばんは！", GR),
    ("ありがとうございます", GR),
    ("よろしくお願いします", GR),
    # faq (store policies)
    ("What is your return policy?", FQ),
    ("How much is shipping to Osaka?", FQ),
    ("Can I pay with PayPay?", FQ),
    ("How do store points work?", FQ),
    ("Can I return a manga I bought last week?", FQ),
    ("Do you ship to the United States?", FQ),
    ("How do I cancel my order?", FQ),
    ("What are your opening hours?", FQ),
    ("返品はできますか？", FQ),
    ("送料はいくらですか？", FQ),
    ("ギフトラッピングはできますか？", FQ),
    ("ポイントの有効期限は？", FQ),
    ("代引きは使えますか？", FQ),
    ("海外発送はしていますか？", FQ),
    # product search
    ("Do you have One Piece volume 105 in stock?", PS),
    ("How much is Chainsaw Man vol 3?", PS),
    ("I'm looking for Frieren volume 1", PS),
    ("Is Berserk volume 41 available?", PS),
    ("I want to buy Blue Lock vol 20", PS),
    ("呪術廻戦の3巻の在庫はありますか？", PS),
    ("ワンピースの100巻はいくらですか？", PS),
    ("鬼滅の刃を買いたいです", PS),
    ("ハイキューの全巻セットはありますか？", PS),
    ("チェンソーマンの最新刊は入荷していますか？", PS),
    # recommendation
    ("Can you recommend a manga similar to Death Note?", RC),
    ("What should I read if I liked Attack on Titan?", RC),
    ("Suggest a good romance manga for a beginner", RC),
    ("Any manga like Frieren?", RC),
    ("I loved Haikyu, what should I read next?", RC),
    ("おすすめの恋愛漫画を教えてください", RC),
    ("鬼滅の刃に似ている漫画はありますか？", RC),
    ("ハイキューが好きな人におすすめの漫画は？", RC),
    ("初心者向けのスポーツ漫画を教えてください", RC),
    # comparison
    ("Compare Naruto and Bleach", CP),
    ("Which is better, Death Note or Monster?", CP),
    ("What is the difference between Berserk and Vagabond?", CP),
    ("Naruto vs Bleach: which one should I start with?", CP),
    ("ナルトとブリーチの違いは何ですか？", CP),
    ("進撃の巨人と鬼滅の刃、どっちが面白い？", CP),
    ("ベルセルクとヴィンランド・サガを比較してください", CP),
    # discussion
    ("What are the main themes of Vinland Saga?", DS),
    ("What do you think about the ending of Attack on Titan?", DS),
    ("What is the symbolism of the masks in Berserk?", DS),
    ("Why did Eren do what he did in Attack on Titan?", DS),
    ("進撃の巨人の結末についてどう思いますか？", DS),
    ("ベルセルクのテーマを考察してください", DS),
    ("チェンソーマンの伏線について語りたい", DS),
    # order status
    ("Where is my order MGA-2025-00417?", OS),
    ("Has my order shipped yet?", OS),
    ("What's the tracking number for my order?", OS),
    ("When will my order arrive?", OS),
    ("MGA-2025-00417の配送状況を教えてください", OS),
    ("注文した本がまだ届かないです", OS),
    ("注文番号MGA-2025-00417はいつ届きますか？", OS),
    # summarization
    ("Give me a summary of Frieren", SM),
    ("What is Monster about?", SM),
    ("Summarize the plot of Death Note", SM),
    ("Can you give me a quick recap of Vinland Saga?", SM),
    ("What happens in Death Note volume 1?", SM),
    ("葬送のフリーレンのあらすじを教えて", SM),
    ("チェンソーマンはどんな話ですか？", SM),
    ("モンスターの内容を簡単に教えて", SM),
    # translation
    ("Translate 'いただきます' into English", TR),
    ("How do you say 'thank you for reading' in Japanese?", TR),
    ("What does 'nakama' mean in English?", TR),
    ("Translate this to Japanese: I love this manga", TR),
    ("この文を英語に翻訳してください：「続きが気になる」", TR),
    ("「推しの子」を英語で何と言いますか？", TR),
    ("「頑張って」を英語に訳して", TR),
    # unknown
    ("asdfgh qwerty", UN),
    ("What's the weather in Tokyo tomorrow?", UN),
    ("Tell me a joke", UN),
    ("明日の天気は？", UN),
    ("今日の天気を教えて", UN),
]


def test_table_covers_every_task_in_both_languages() -> None:
    def japanese(text: str) -> bool:
        return any("\u3040" <= ch <= "\u9fff" for ch in text)

    assert len(CASES) >= 40
    assert {task for _, task in CASES} == set(Task)
    assert sum(japanese(q) for q, _ in CASES) * 2 >= len(CASES) - 10  # about half Japanese
    for task in Task:
        assert any(japanese(q) for q, t in CASES if t is task), task
        assert any(not japanese(q) for q, t in CASES if t is task), task


@pytest.mark.parametrize(("message", "expected"), CASES, ids=[f"{t.value}:{q}" for q, t in CASES])
def test_task(message: str, expected: Task) -> None:
    assert classify(message).task is expected


@pytest.mark.parametrize(
    "message",
    [
        "MGA-2025-00417",
        "mga-2025-00417",
        "Can you recommend something? My order is MGA-2025-00417",
        "MGA-2025-00417の返品はできますか",
        "What's the price of MGA-2025-00417?",
    ],
)
def test_an_order_id_forces_order_status(message: str) -> None:
    result = classify(message)
    assert result.task is Task.ORDER_STATUS
    assert result.entities.order_ids == ["MGA-2025-00417"]


@pytest.mark.parametrize(
    ("message", "language"),
    [
        ("こんにちは", Language.JA),
        ("Hello", Language.EN),
        ("ONE PIECEの最新刊はありますか？", Language.JA),
        ("I want to buy the new 進撃 manga today please", Language.EN),
    ],
)
def test_language(message: str, language: Language) -> None:
    assert classify(message).language is language


@pytest.mark.parametrize("message", [q for q, _ in CASES] + ["", "a" * 2000, "？？？"])
def test_complexity_and_confidence_are_within_0_and_1(message: str) -> None:
    result = classify(message)
    assert 0.0 <= result.complexity <= 1.0
    assert 0.0 <= result.confidence <= 1.0


def test_discussion_is_more_complex_than_greeting() -> None:
    greeting = classify("Hello!")
    discussion = classify("What are the main themes of Vinland Saga?")
    assert (greeting.task, discussion.task) == (Task.GREETING, Task.DISCUSSION)
    assert discussion.complexity > greeting.complexity


def test_comparison_is_more_complex_than_faq_in_japanese() -> None:
    assert classify("ナルトとブリーチの違いは何ですか？").complexity > classify("送料はいくらですか？").complexity


def test_longer_messages_are_more_complex_for_the_same_task() -> None:
    short = classify("What are the themes of Berserk?")
    long = classify("What are the themes of Berserk? " + "I keep thinking about Guts and his struggle. " * 5)
    assert (short.task, long.task) == (Task.DISCUSSION, Task.DISCUSSION)
    assert long.complexity > short.complexity


@pytest.mark.parametrize(
    "message",
    [
        "What are the main themes of Vinland Saga?",  # discussion naming a series
        "おすすめの恋愛漫画を教えてください",  # recommendation mentioning 漫画
        "Summarize the plot of Death Note",
        "Compare Naruto and Bleach",
        "Can you recommend a good shonen manga?",
    ],
)
def test_manga_specific(message: str) -> None:
    assert classify(message).manga_specific is True


@pytest.mark.parametrize(
    "message",
    [
        "Do you have One Piece volume 105 in stock?",  # product search: the catalog answers, not the manga model
        "What is your return policy?",
        "Where is my order MGA-2025-00417?",
        "Hello!",
        "Can you suggest a gift for my friend?",  # recommendation with no manga content at all
    ],
)
def test_not_manga_specific(message: str) -> None:
    assert classify(message).manga_specific is False


def test_entities_are_extracted() -> None:
    result = classify("Do you have 進撃の巨人 vol 3 and vol 4?")
    assert result.entities.titles == ["attack-on-titan"]
    assert result.entities.volumes == [3, 4]


def test_a_bare_title_is_a_product_search() -> None:
    assert classify("Frieren").task is Task.PRODUCT_SEARCH
    assert classify("葬送のフリーレン").task is Task.PRODUCT_SEARCH


def test_greeting_inside_a_longer_question_is_not_a_greeting() -> None:
    assert classify("Hello, do you have One Piece volume 105 in stock right now?").task is Task.PRODUCT_SEARCH
