"""The semantic cache's entity guard and storage rules, and the exact cache's key and write rule.

The store here is an in-memory k-NN with the same tag filter as the Redis index (the Redis store itself runs in
tests/integration/test_semantic_cache.py). Lookups use the SAME vector as the stored question: an embedding can
never tell these questions apart, so only the guard can.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from mangaassist.reply import cache as exact
from mangaassist.reply.cache_guard import guard_for
from mangaassist.reply.finalize import customer_data_used, finalize, history_used
from mangaassist.reply.semantic_cache import SemanticCache, ttl_for
from mangaassist.turn import (
    CacheLookup,
    Classification,
    Language,
    QueryEmbedding,
    Retrieval,
    SourceRef,
    Task,
    TurnState,
    Understanding,
    Validation,
)
from mangaassist.understand.classify import classify

from .conftest import make_answer, make_config, make_history, make_request, make_route, order_source, policy_source

VECTOR = [float(x) for x in np.random.default_rng(7).normal(size=16)]


class MemoryStore:
    """k-NN 1 by cosine distance among the entries with the same guard tag."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, np.ndarray, dict[str, Any], int]] = []

    def nearest(self, guard_key: str, vector: Sequence[float]) -> tuple[float, dict[str, Any]] | None:
        v = np.asarray(vector)
        scored = [(float(1 - v @ e / (np.linalg.norm(v) * np.linalg.norm(e))), frame)
                  for key, e, frame, _ in self.entries if key == guard_key]
        return min(scored, key=lambda item: item[0]) if scored else None

    def put(self, guard_key: str, message: str, vector: Sequence[float], frame: dict[str, Any], ttl: int) -> None:
        self.entries.append((guard_key, np.asarray(vector), frame, ttl))


def turn(message: str, *, task: Task | None = None, sources: list[SourceRef] | None = None, history: int = 0,
         locale: str | None = None, vector: list[float] | None = None, text: str = "An answer from the sources.",
         language: Language | None = None) -> TurnState:
    """A finished turn as Finalize sees it: Classify's real entities for `message`, an accepted answer."""
    classified = classify(message)
    update: dict[str, Any] = {}
    if task is not None:
        update["task"] = task
    if language is not None:
        update["language"] = language
    classification: Classification = classified.model_copy(update=update)
    return TurnState(
        request=make_request(message, locale=locale, history=make_history(history) if history else None),
        config=make_config(),
        query_embedding=QueryEmbedding(model_id="test", vector=vector or VECTOR),
        understanding=Understanding(classification=classification,
                                    retrieval=Retrieval(sources=sources if sources is not None else [policy_source()])),
        route=make_route(),
        answer=make_answer(text),
        validation=Validation(decision="accept"),
    )


def stored(state: TurnState, max_distance: float | None = 0.1) -> tuple[SemanticCache, bool]:
    semantic = SemanticCache(MemoryStore(), max_distance)
    return semantic, semantic.save(state, finalize(state))


# --- the guard ---------------------------------------------------------------------------------------------------


def test_a_paraphrase_under_the_same_guard_hits() -> None:
    cache, saved = stored(turn("What is your return policy?", task=Task.FAQ))
    lookup = cache.lookup(turn("How do returns work at your store?", task=Task.FAQ))
    assert saved and lookup.hit and lookup.distance == 0.0
    assert lookup.text == "An answer from the sources." and lookup.meta["task"] == "faq"


def test_volume_105_never_serves_volume_106() -> None:
    cache, saved = stored(turn("What happens in One Piece volume 105?", task=Task.SUMMARIZATION,
                               sources=[]))
    assert saved
    lookup = cache.lookup(turn("What happens in One Piece volume 106?", task=Task.SUMMARIZATION, sources=[]))
    assert not lookup.hit and lookup.distance is None  # nothing at all under volume 106's guard
    assert cache.lookup(turn("What happens in One Piece volume 105?", task=Task.SUMMARIZATION)).hit


def test_another_language_never_hits() -> None:
    cache, _ = stored(turn("What is your return policy?", task=Task.FAQ))
    lookup = cache.lookup(turn("返品ポリシーを教えてください", task=Task.FAQ))
    assert not lookup.hit and lookup.distance is None


def test_the_locale_decides_a_mixed_message() -> None:
    cache, _ = stored(turn("ONE PIECE return policy", task=Task.FAQ, language=Language.MIXED, locale="en"))
    assert not cache.lookup(turn("ONE PIECE return policy", task=Task.FAQ, language=Language.MIXED,
                                 locale="ja")).hit


@pytest.mark.parametrize(("first", "second"), [
    ("Do you ship to France?", "Do you ship to Germany?"),
    ("How much is shipping to Okinawa?", "How much is shipping to Hokkaido?"),
    ("What comes with the special edition?", "What comes with the limited edition?"),
    ("特装版には何が付いていますか？", "限定版には何が付いていますか？"),
    ("Do you accept PayPay?", "Do you accept PayPal?"),
    ("Recommend a good horror manga", "Recommend a good romance manga"),
    ("Recommend manga for my 8-year-old", "Recommend manga for my 12-year-old"),
    ("Can you recommend manga like Berserk?", "Can you recommend manga like Beelzebub?"),
    ("Recommend manga by Naoki Urasawa", "Recommend manga by Takehiko Inoue"),
])
def test_a_near_miss_has_another_guard(first: str, second: str) -> None:
    task = classify(first).task if classify(first).task is not Task.UNKNOWN else Task.FAQ
    a, b = turn(first, task=task), turn(second, task=task)
    guard_a = guard_for(a.understanding.classification, first, None)  # type: ignore[union-attr]
    guard_b = guard_for(b.understanding.classification, second, None)  # type: ignore[union-attr]
    assert guard_a is not None and guard_b is not None
    assert guard_a.key != guard_b.key
    cache, _ = stored(a)
    assert not cache.lookup(b).hit


@pytest.mark.parametrize(("first", "second"), [
    ("What are the themes of Vinland Saga? No spoilers please.",
     "What are the themes of Vinland Saga? Spoilers are fine."),
    ("進撃の巨人の結末について、ネタバレありで教えて", "進撃の巨人の結末について、ネタバレなしで教えて"),
])
def test_the_spoiler_preference_is_part_of_the_guard(first: str, second: str) -> None:
    cache, saved = stored(turn(first, task=Task.DISCUSSION, sources=[]))
    assert saved and not cache.lookup(turn(second, task=Task.DISCUSSION, sources=[])).hit


def test_a_series_question_about_an_unknown_title_is_not_cached() -> None:
    # Two titles the catalog does not know would share a guard: the embedding alone would have to tell them apart.
    state = turn("What is Zyxwv Quest about?", task=Task.SUMMARIZATION, sources=[])
    assert guard_for(state.understanding.classification, state.request.message, None) is None  # type: ignore[union-attr]
    assert not stored(state)[1]


def test_a_distance_over_the_threshold_is_a_miss_that_records_the_distance() -> None:
    cache, _ = stored(turn("What is your return policy?", task=Task.FAQ), max_distance=0.05)
    other = [v + (0.6 if i % 2 else -0.6) for i, v in enumerate(VECTOR)]
    lookup = cache.lookup(turn("How do returns work at your store?", task=Task.FAQ, vector=other))
    assert not lookup.hit and lookup.distance is not None and lookup.distance > 0.05


def test_shadow_mode_records_distances_and_never_serves() -> None:
    cache, _ = stored(turn("What is your return policy?", task=Task.FAQ), max_distance=None)
    lookup = cache.lookup(turn("What is your return policy?", task=Task.FAQ))
    assert lookup == CacheLookup(distance=0.0)


# --- what is never stored ----------------------------------------------------------------------------------------


def test_orders_are_never_cached() -> None:
    state = turn("Where is my order MGA-2025-00417?", sources=[order_source()])
    assert state.understanding.classification.task is Task.ORDER_STATUS  # type: ignore[union-attr]
    assert not stored(state)[1]
    # Any task built from a customer's order: not shared, in either cache.
    faq_with_order = turn("Can I return the books from MGA-2025-00417?", task=Task.FAQ, sources=[order_source()])
    assert not stored(faq_with_order)[1]
    assert customer_data_used(faq_with_order)
    assert not exact.cacheable(finalize(faq_with_order), customer_data_used=customer_data_used(faq_with_order))


def test_prices_and_stock_are_never_cached() -> None:
    product = SourceRef(kind="product", id="one-piece#105", title="One Piece vol. 105",
                        facts={"price_jpy": 528, "stock": 7})
    assert not stored(turn("Recommend manga like One Piece", task=Task.RECOMMENDATION, sources=[product]))[1]
    assert not stored(turn("Recommend manga like One Piece", task=Task.RECOMMENDATION, sources=[],
                           text="Try Naruto: ¥484 a volume."))[1]
    assert not stored(turn("Recommend manga like One Piece", task=Task.RECOMMENDATION, sources=[],
                           text="Naruto is in stock."))[1]
    assert not stored(turn("How much is One Piece volume 105?", task=Task.PRODUCT_SEARCH))[1]
    # A policy's fees are policy, not prices that move.
    assert stored(turn("How much is shipping within Japan?", task=Task.FAQ, text="Shipping costs ¥550."))[1]


def test_history_built_answers_are_not_cached_nor_served() -> None:
    with_history = turn("What is your return policy?", task=Task.FAQ, history=2)
    assert history_used(with_history)
    assert not stored(with_history)[1]
    assert not exact.cacheable(finalize(with_history), history_used=history_used(with_history))
    cache, _ = stored(turn("What is your return policy?", task=Task.FAQ))
    assert cache.lookup(with_history) == CacheLookup()  # not even looked up: the history may change the answer


def test_fallbacks_are_not_cached() -> None:
    state = turn("What is your return policy?", task=Task.FAQ).model_copy(
        update={"validation": Validation(decision="fallback", failures=["pii"])})
    assert not stored(state)[1]


# --- the semantic hit frame and the exact key -------------------------------------------------------------------


def test_a_semantic_hit_is_finalized_at_no_cost_with_its_distance() -> None:
    cache, _ = stored(turn("What is your return policy?", task=Task.FAQ))
    state = turn("How do returns work at your store?", task=Task.FAQ)
    lookup = cache.lookup(state)
    state = state.model_copy(update={"route": make_route().model_copy(update={"cache": lookup}), "answer": None,
                                     "validation": None})
    frame = finalize(state)
    meta = frame["meta"]
    assert frame["text"] == "An answer from the sources."
    assert meta["cache"] == "semantic" and meta["cache_distance"] == 0.0
    assert meta["cost_usd"] == "0" and meta["tiers"] == [] and meta["turnId"] == state.request.turn_id


def test_a_miss_carries_the_nearest_distance_in_meta() -> None:
    state = turn("What is your return policy?", task=Task.FAQ)
    state = state.model_copy(update={"route": make_route().model_copy(update={"cache": CacheLookup(distance=0.2)})})
    assert finalize(state)["meta"]["cache_distance"] == 0.2


def test_the_exact_key_follows_the_prompt_and_validator_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    before = exact.cache_key("What is your return policy?", "en")
    assert exact.cache_key("  what is your   RETURN policy? ", "en") == before
    assert exact.cache_key("What is your return policy?", "ja") != before
    monkeypatch.setattr(exact, "PROMPTS_VERSION", "next")
    assert exact.cache_key("What is your return policy?", "en") != before
    monkeypatch.undo()
    monkeypatch.setattr(exact, "VALIDATOR_VERSION", "next")
    assert exact.cache_key("What is your return policy?", "en") != before


def test_a_lone_surrogate_is_a_key_not_a_crash() -> None:
    assert exact.cache_key("\ud800 hello", None).startswith("mangaassist:answer:v2:")


def test_ttls_per_task_with_overrides() -> None:
    assert ttl_for("faq") > ttl_for("recommendation") > 0
    assert ttl_for("faq", "faq=60, recommendation=0,bad,=3") == 60
    assert ttl_for("recommendation", "recommendation=0") == 0
    assert ttl_for("order_status") == 0 and ttl_for("product_search") == 0
