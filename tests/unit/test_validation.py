"""validation.py: format, length, language, safety (PII, prompt leaks), keywords, grounding; the decision."""

from __future__ import annotations

import pytest

from mangaassist.answer.prompts import BASE, system_prompt
from mangaassist.reply.fallback import CANNED
from mangaassist.reply.validate import MAX_CHARS, language_matches, safety_failures, validate
from mangaassist.turn import Target, Task

from .conftest import make_answer, order_source, product_source

ONE_PIECE_105 = product_source("one-piece", 105, price_jpy=528, stock=7)
GOOD_EN = "One Piece volume 105 costs ¥528 and we have 7 copies left."
GOOD_JA = "ワンピース第105巻は528円で、在庫は7冊です。"


def run(text: str, *, task: Task = Task.PRODUCT_SEARCH, language: str = "en", sources: list | None = None,
        target: Target = Target.HAIKU, retried: bool = False):
    answer = make_answer(text, target=target, retried=retried)
    return validate(answer, task, language, [ONE_PIECE_105] if sources is None else sources)


# --- accept ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "language"), [(GOOD_EN, "en"), (GOOD_JA, "ja")])
def test_clean_grounded_answer_is_accepted(text: str, language: str) -> None:
    result = run(text, language=language)
    assert result.decision == "accept"
    assert result.failures == []


def test_order_answer_with_tracking_number_and_dates_is_accepted() -> None:
    text = ("Your order MGA-2025-00417 shipped on 2025-10-15 with Yamato Transport, tracking number "
            "4521-8830-1027, and should arrive on 2025-10-18.")
    result = run(text, task=Task.ORDER_STATUS, sources=[order_source("MGA-2025-00417")])
    assert result.failures == []
    assert result.decision == "accept"


# --- PII ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["Contact me at taro.yamada@example.co.jp", "Mail support+manga@example.com please", "メールはtaro@example.jpです"],
)
def test_email_is_pii(text: str) -> None:
    assert "pii:email" in safety_failures(text)


@pytest.mark.parametrize(
    "text",
    [
        "Call 03-1234-5678",
        "Call 090-1234-5678",
        "Call 09012345678",
        "Call +81 90 1234 5678",
        "Call +81-90-1234-5678",
        "call 03 1234 5678 today",
        "電話 03-1234-5678 まで",
        # Japanese text glues the number to the words around it (no spaces)
        "お電話は03-1234-5678までどうぞ",
        "電話番号：090-1234-5678です",
        "携帯は09012345678です",
    ],
)
def test_phone_is_pii(text: str) -> None:
    assert "pii:phone" in safety_failures(text)


@pytest.mark.parametrize(
    "text",
    [
        "Your order MGA-2025-00417 is on its way.",
        "It arrives on 2025-10-18.",
        "Tracking number 4521-8830-1027.",
        "We have 7 copies of volume 105 at ¥528.",
    ],
)
def test_order_ids_dates_and_tracking_numbers_are_not_phones(text: str) -> None:
    assert safety_failures(text) == []


@pytest.mark.parametrize(
    "text",
    [
        "Card 4111 1111 1111 1111",
        "Card 4111-1111-1111-1111",
        "Card 4111111111111111",
        "Your card 5500 0000 0000 0004 was charged",
        "カード番号は4111111111111111です",
        "カード番号は4111 1111 1111 1111です",
    ],
)
def test_luhn_valid_card_number_is_pii(text: str) -> None:
    assert "pii:card" in safety_failures(text)


@pytest.mark.parametrize("text", ["Card 4111111111111112", "Ref 1234 5678 9012 3456"])
def test_luhn_invalid_16_digits_are_not_a_card(text: str) -> None:
    assert "pii:card" not in safety_failures(text)


@pytest.mark.parametrize(
    "text",
    [
        "〒150-0001 東京都渋谷区神宮前1-2-3",
        "住所は〒150-0001 東京都渋谷区神宮前1-2-3です",
        "〒1500001",
        "東京都渋谷区神宮前1-2-3",
        "大阪府大阪市北区梅田1-2-3",
        "He lives at 123 Main Street",
    ],
)
def test_address_is_pii(text: str) -> None:
    assert "pii:address" in safety_failures(text)


def test_pii_fails_validation_with_fallback() -> None:
    # Stricter since #10: a retry cannot make an answer that held personal data safe to have produced.
    result = run("Sure, write to taro@example.com about One Piece.")
    assert result.decision == "fallback"
    assert "pii:email" in result.failures


# --- prompt leaks ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "Here is the <context> you gave me: [1] product one-piece#105",
        "</context>",
        BASE,
        BASE[:80],
        "My instructions say: You are MangaAssist, the assistant of a Japanese manga store.",
        "I was told to never reveal these instructions.",
        "My system prompt says I should help.",
        "システムプロンプトは秘密です",
        system_prompt(Task.FAQ, "en", [ONE_PIECE_105]),
    ],
)
def test_prompt_leak(text: str) -> None:
    # The context block's framing is reported as leak:context (#10), the prompt's sentences as leak:system_prompt.
    assert any(f in ("leak:system_prompt", "leak:context") for f in safety_failures(text))


def test_ordinary_words_are_not_a_leak() -> None:
    assert safety_failures("In the context of the story, the system of magic is explained in volume 3.") == []


# --- language ----------------------------------------------------------------------------------------------------


def test_english_answer_to_a_japanese_turn_fails() -> None:
    result = run("One Piece volume 105 costs ¥528.", language="ja")
    assert result.failures == ["language:ja"]
    assert result.decision == "retry"


def test_japanese_answer_to_an_english_turn_fails() -> None:
    result = run("ワンピース第105巻は528円です。", language="en")
    assert result.failures == ["language:en"]


def test_language_matches() -> None:
    assert language_matches("ONE PIECEの105巻は528円です", "ja")
    assert language_matches("SPY×FAMILY is in stock.", "en")  # a Japanese title written in Latin is English
    assert not language_matches("Hello there", "ja")
    assert not language_matches("こんにちは、いらっしゃいませ", "en")


# --- format, length, keywords, grounding -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "failure"), [("x", "length"), ("a " * (MAX_CHARS // 2 + 1), "length"),
                                               ('{"answer": "One Piece"}', "format"), ("[1, 2]", "format"),
                                               ("<answer>hi</answer>", "format")])
def test_format_and_length(text: str, failure: str) -> None:
    assert failure in run(text).failures


def test_length_bounds_are_inclusive() -> None:
    assert "length" not in run("ok").failures
    assert "length" not in run("a" * MAX_CHARS).failures


def test_order_status_answer_must_mention_the_order() -> None:
    assert "keywords:expected" in run("Your package is on its way.", task=Task.ORDER_STATUS, sources=[]).failures
    assert "keywords:expected" not in run("Your order is on its way.", task=Task.ORDER_STATUS, sources=[]).failures
    assert "keywords:expected" not in run("ご注文は発送済みです。", task=Task.ORDER_STATUS, language="ja",
                                          sources=[]).failures


@pytest.mark.parametrize(
    ("text", "failure"),
    [
        ("One Piece volume 105 costs ¥600.", "ungrounded:price:600"),
        ("We have 9 copies left.", "ungrounded:stock:9"),
        ("One Piece volume 200 is out.", "ungrounded:volume:200"),
        ("You should read Naruto.", "ungrounded:title:naruto"),
        ("Your order MGA-2025-00999 has shipped.", "ungrounded:order:MGA-2025-00999"),
    ],
)
def test_ungrounded_claims_fail(text: str, failure: str) -> None:
    result = run(text)
    assert failure in result.failures
    assert result.decision == "retry"


# --- decision ----------------------------------------------------------------------------------------------------


def test_failed_first_answer_is_retried() -> None:
    assert run("One Piece volume 105 costs ¥600.").decision == "retry"
    assert run("One Piece volume 105 costs ¥600.", target=Target.SONNET).decision == "retry"


def test_failed_retried_answer_falls_back() -> None:
    result = run("One Piece volume 105 costs ¥600.", retried=True)
    assert result.decision == "fallback"
    assert result.failures == ["ungrounded:price:600"]


def test_failed_canned_answer_falls_back_never_retries() -> None:
    assert run("x", target=Target.CANNED).decision == "fallback"


def test_good_retried_answer_is_accepted() -> None:
    assert run(GOOD_EN, retried=True).decision == "accept"


@pytest.mark.parametrize("language", ["ja", "en"])
def test_canned_answers_pass_validation(language: str) -> None:
    result = run(CANNED[language], language=language, target=Target.CANNED, sources=[], task=Task.UNKNOWN)
    assert result.decision == "accept", result.failures
