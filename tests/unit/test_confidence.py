"""confidence.py: score = 0.30·stop + 0.20·(1 − hedging) + 0.25·grounding + 0.10·length_fit + 0.15·task_prior."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mangaassist.answer.confidence import LENGTH_BAND, TASK_PRIOR, WEIGHTS, hedge_count, length_fit, score
from mangaassist.turn import Task

from .conftest import product_source, series_source

THRESHOLD = 0.80
ONE_PIECE_105 = product_source("one-piece", 105, price_jpy=528, stock=7)
VINLAND = series_source("vinland-saga", volumes=29, price_jpy=770)

GROUNDED_PRODUCT = "One Piece volume 105 is in stock: we have 7 copies left at ¥528 each."
UNGROUNDED_PRODUCT = "One Piece volume 105 is in stock: we have 7 copies left at ¥600 each."

DISCUSSION_EN = ("Vinland Saga is about revenge and what it costs. Thorfinn grows from a boy chasing vengeance into "
                 "a man who questions violence itself, and the series asks what a true warrior is.")
DISCUSSION_EN_HEDGED = ("Maybe Vinland Saga is about revenge and what it costs. Perhaps Thorfinn grows from a boy "
                        "chasing vengeance into a man who questions violence itself, and the series asks what a true "
                        "warrior is.")
DISCUSSION_JA = ("ヴィンランド・サガは復讐とその代償を描いた物語です。トルフィンは復讐に生きる少年から、暴力そのものを"
                 "問い直す青年へと成長していき、本当の戦士とは何かを問いかけます。")
DISCUSSION_JA_HEDGED = ("ヴィンランド・サガは復讐とその代償を描いた物語かもしれません。"
                        "トルフィンは復讐に生きる少年から、暴力そのものを問い直す青年へと成長していくのだと思いますが、"
                        "はっきりしません。")


def test_weights_are_the_documented_ones_and_sum_to_1() -> None:
    assert WEIGHTS == {"stop": 0.30, "hedging": 0.20, "grounding": 0.25, "length": 0.10, "prior": 0.15}
    assert sum(WEIGHTS.values()) == pytest.approx(1.0)


def test_every_task_has_a_prior_and_a_length_band() -> None:
    assert set(TASK_PRIOR) == set(Task)
    assert set(LENGTH_BAND) == set(Task)
    assert TASK_PRIOR[Task.DISCUSSION] < TASK_PRIOR[Task.GREETING]


def test_exact_score_of_a_clean_greeting() -> None:
    # no claims -> grounding 0.8; inside the band; no hedges; greeting prior 1.0
    expected = 0.30 * 1 + 0.20 * 1 + 0.25 * 0.8 + 0.10 * 1 + 0.15 * 1.0
    assert score("Hello! How can I help you today?", "end_turn", Task.GREETING, []) == pytest.approx(expected)


def test_exact_score_of_a_grounded_discussion() -> None:
    expected = 0.30 + 0.20 + 0.25 * 1.0 + 0.10 + 0.15 * TASK_PRIOR[Task.DISCUSSION]
    assert score(DISCUSSION_EN, "end_turn", Task.DISCUSSION, [VINLAND]) == pytest.approx(expected, abs=1e-4)


# --- the threshold cases ----------------------------------------------------------------------------------------


def test_clean_grounded_product_answer_passes_the_threshold() -> None:
    assert score(GROUNDED_PRODUCT, "end_turn", Task.PRODUCT_SEARCH, [ONE_PIECE_105]) >= THRESHOLD


@pytest.mark.parametrize("answer", [DISCUSSION_EN, DISCUSSION_JA])
def test_clean_grounded_discussion_passes_the_threshold(answer: str) -> None:
    assert score(answer, "end_turn", Task.DISCUSSION, [VINLAND]) >= THRESHOLD


def test_two_english_hedges_drop_a_discussion_below_the_threshold() -> None:
    assert hedge_count(DISCUSSION_EN_HEDGED) == 2
    assert score(DISCUSSION_EN_HEDGED, "end_turn", Task.DISCUSSION, [VINLAND]) < THRESHOLD


def test_japanese_hedges_drop_a_discussion_below_the_threshold() -> None:
    assert hedge_count(DISCUSSION_JA_HEDGED) == 2  # かもしれません, はっきりしません
    assert score(DISCUSSION_JA_HEDGED, "end_turn", Task.DISCUSSION, [VINLAND]) < THRESHOLD


@pytest.mark.parametrize("stop_reason", ["max_tokens", "length"])
def test_cut_off_answer_scores_lower(stop_reason: str) -> None:
    natural = score(GROUNDED_PRODUCT, "end_turn", Task.PRODUCT_SEARCH, [ONE_PIECE_105])
    cut = score(GROUNDED_PRODUCT, stop_reason, Task.PRODUCT_SEARCH, [ONE_PIECE_105])
    assert cut == pytest.approx(natural - 0.30 * 0.7, abs=1e-4)
    assert cut < THRESHOLD


def test_ungrounded_price_scores_lower_than_the_grounded_one() -> None:
    grounded = score(GROUNDED_PRODUCT, "end_turn", Task.PRODUCT_SEARCH, [ONE_PIECE_105])
    ungrounded = score(UNGROUNDED_PRODUCT, "end_turn", Task.PRODUCT_SEARCH, [ONE_PIECE_105])
    assert ungrounded < grounded
    # one of four claims unsupported: grounding falls by 0.25, the score by 0.25 * 0.25
    assert grounded - ungrounded == pytest.approx(0.0625, abs=1e-4)


def test_harder_task_prior_lowers_the_score() -> None:
    text = "Here is my answer to your question, as clearly as I can put it."
    assert score(text, "end_turn", Task.DISCUSSION, []) < score(text, "end_turn", Task.FAQ, [])


# --- hedges and length -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("The answer is volume 3.", 0),
        ("I'm not sure, maybe volume 3.", 2),
        ("I’m not sure which volume it is.", 1),  # typographic apostrophe, as models often write it
        ("PERHAPS", 1),
        ("たぶん3巻です。", 1),
        ("おそらく3巻かもしれません。", 2),
        ("わかりません。", 1),
    ],
)
def test_hedge_count(text: str, count: int) -> None:
    assert hedge_count(text) == count


def test_hedging_is_capped_at_two_phrases() -> None:
    two = score("Maybe, perhaps.", "end_turn", Task.GREETING, [])
    four = score("Maybe, perhaps, possibly, I think.", "end_turn", Task.GREETING, [])
    assert two == pytest.approx(four)


def test_length_fit() -> None:
    low, high = LENGTH_BAND[Task.DISCUSSION]
    assert length_fit(Task.DISCUSSION, "x" * low) == 1.0
    assert length_fit(Task.DISCUSSION, "x" * high) == 1.0
    assert length_fit(Task.DISCUSSION, "x" * (low // 2)) == pytest.approx(0.5, abs=0.02)
    assert length_fit(Task.DISCUSSION, "x" * (2 * high)) == 0.0
    assert length_fit(Task.DISCUSSION, "  " + "x" * low + "  ") == 1.0  # surrounding whitespace does not count


def test_too_short_discussion_scores_lower() -> None:
    short = score("It's about revenge.", "end_turn", Task.DISCUSSION, [VINLAND])
    assert short < score(DISCUSSION_EN, "end_turn", Task.DISCUSSION, [VINLAND])


# --- bounds ------------------------------------------------------------------------------------------------------


@given(
    text=st.text(max_size=3000),
    stop_reason=st.sampled_from(["end_turn", "max_tokens", "length", "stop_sequence", "content_filtered", ""]),
    task=st.sampled_from(list(Task)),
    with_sources=st.booleans(),
)
def test_score_is_always_within_0_and_1(text: str, stop_reason: str, task: Task, with_sources: bool) -> None:
    sources = [ONE_PIECE_105, VINLAND] if with_sources else []
    assert 0.0 <= score(text, stop_reason, task, sources) <= 1.0


@given(st.lists(st.sampled_from(["maybe ", "¥999 ", "Naruto ", "vol 900 ", "たぶん", "x" * 50, "かもしれません"]),
                max_size=80))
def test_score_stays_in_bounds_for_adversarial_answers(parts: list[str]) -> None:
    value = score("".join(parts), "max_tokens", Task.DISCUSSION, [VINLAND])
    assert 0.0 <= value <= 1.0
