"""retrieve.py: keyword search over catalog and policies, exact product/order lookups."""

from __future__ import annotations

from typing import Any

import pytest

from mangaassist.adapters.dynamodb import DynamoLookups
from mangaassist.catalog.store import product_id
from mangaassist.text import extract_entities
from mangaassist.textnorm import tokens
from mangaassist.turn import HistoryItem, SourceRef
from mangaassist.understand.order_access import OrderLookupLimit
from mangaassist.understand.retrieve import TOP_K, keyword_search, retrieve


def search(query: str, k: int = TOP_K) -> list[SourceRef]:
    return keyword_search(query, extract_entities(query), k=k)


class FakeLookups:
    """An in-memory ExactLookups: products by (series, volume), orders by id; every call recorded."""

    def __init__(self, products: dict[tuple[str, int], dict[str, Any]] | None = None,
                 orders: dict[str, dict[str, Any]] | None = None) -> None:
        self.products = products or {}
        self.orders = orders or {}
        self.calls: list[tuple[str, Any]] = []

    def product(self, series_id: str, volume: int) -> dict[str, Any] | None:
        self.calls.append(("product", (series_id, volume)))
        return self.products.get((series_id, volume))

    def order(self, order_id: str) -> dict[str, Any] | None:
        self.calls.append(("order", order_id))
        return self.orders.get(order_id)


def product_item(series_id: str, volume: int, price: int, stock: int, title_en: str, title_ja: str) -> dict[str, Any]:
    return {"productId": product_id(series_id, volume), "seriesId": series_id, "volume": volume,
            "price_jpy": price, "stock": stock, "title_en": title_en, "title_ja": title_ja}


ORDER_417 = {
    "orderId": "MGA-2025-00417", "status": "shipped", "carrier": "Yamato Transport",
    "tracking_number": "4521-8830-1027", "eta": "2025-10-18", "placed_at": "2025-10-14",
    "items": [{"series_id": "frieren", "volume": 13, "qty": 1, "price_jpy": 528}], "customer_ref": "C-1043",
}


# --- keyword search: series --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "series_id"),
    [
        ("Tell me about Frieren", "frieren"),
        ("Do you have Attack on Titan?", "attack-on-titan"),
        ("葬送のフリーレンについて", "frieren"),
        ("進撃の巨人はありますか", "attack-on-titan"),
        ("Shingeki no Kyojin", "attack-on-titan"),
        ("JJK", "jujutsu-kaisen"),
        ("ワンピースの最新刊", "one-piece"),
        ("Kimetsu no Yaiba", "demon-slayer"),
    ],
)
def test_title_finds_its_series_first(query: str, series_id: str) -> None:
    results = search(query)
    assert results, query
    assert (results[0].kind, results[0].id) == ("series", series_id)


def test_series_source_carries_catalog_facts() -> None:
    top = search("Akira")[0]
    assert top.id == "akira"
    assert top.facts["price_jpy"] == 1320
    assert top.facts["volumes"] == 6
    assert top.facts["demographic"] == "seinen"
    assert "AKIRA" in top.title


@pytest.mark.parametrize(("query", "genre_series"), [("I want a cooking manga", {"food-wars", "dungeon-meshi"}),
                                                     ("料理の漫画", {"food-wars", "dungeon-meshi"})])
def test_genre_words_find_series_of_that_genre(query: str, genre_series: set[str]) -> None:
    assert {r.id for r in search(query)[:2]} == genre_series


# --- keyword search: policies ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "policy_id"),
    [
        ("What is your return policy?", "returns"),
        ("Can I get a refund?", "returns"),
        ("返品はできますか？", "returns"),
        ("返品できますか？", "returns"),
        ("返品について教えてください", "returns"),
        ("How much is shipping?", "shipping-domestic"),
        ("送料はいくらですか", "shipping-domestic"),
        ("送料", "shipping-domestic"),
        ("How do store points work?", "points"),
        ("ポイントは貯まりますか", "points"),
        ("Can I pay with PayPay?", "payment-methods"),
        ("gift wrap please", "gift-wrap"),
    ],
)
def test_policy_question_finds_its_policy_first(query: str, policy_id: str) -> None:
    results = search(query)
    assert results, query
    assert (results[0].kind, results[0].id) == ("policy", policy_id)


def test_policy_source_is_a_short_reference() -> None:
    top = search("What is your return policy?")[0]
    assert top.title == "Returns and refunds"
    assert 0 < len(top.snippet) <= 200


# --- keyword search: bounds and scores ---------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_top_k_bound(k: int) -> None:
    assert len(search("おすすめの恋愛漫画を教えてください 送料 返品 ポイント", k=k)) == k


def test_default_top_k_is_5() -> None:
    assert TOP_K == 5
    assert len(search("送料について")) == TOP_K


def test_results_are_sorted_by_score_and_positive() -> None:
    results = search("葬送のフリーレンについて")
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    assert all(s > 0 for s in scores)


def test_nonsense_finds_nothing() -> None:
    assert search("xyzzy") == []


def test_stop_words_are_dropped_and_japanese_is_split_into_bigrams() -> None:
    assert "the" not in tokens("the manga")
    assert {"返品", "品で"} <= set(tokens("返品で"))
    assert "romance" in tokens("恋愛漫画")


# --- retrieve with exact lookups ---------------------------------------------------------------------------------


def test_product_lookup_by_title_and_volume_is_included_with_its_facts() -> None:
    lookups = FakeLookups(products={("attack-on-titan", 3): product_item("attack-on-titan", 3, 528, 13,
                                                                          "Attack on Titan", "進撃の巨人")})
    result = retrieve("進撃の巨人の3巻の在庫はありますか？", lookups)
    products = [s for s in result.sources if s.kind == "product"]
    assert len(products) == 1
    assert products[0].id == "attack-on-titan#3"
    assert products[0].facts == {"series_id": "attack-on-titan", "volume": 3, "price_jpy": 528, "stock": 13,
                                 "title_ja": "進撃の巨人"}
    assert ("product", ("attack-on-titan", 3)) in lookups.calls
    # exact lookups come before keyword hits, and the series itself is still among the sources
    assert result.sources[0].kind == "product"
    assert "attack-on-titan" in [s.id for s in result.sources if s.kind == "series"]


def test_order_lookup_is_included_with_its_facts() -> None:
    lookups = FakeLookups(orders={"MGA-2025-00417": ORDER_417})
    result = retrieve("mga-2025-00417の配送状況を教えてください", lookups, principal="C-1043")
    assert ("order", "MGA-2025-00417") in lookups.calls  # looked up by the upper-cased id
    order = result.sources[0]
    assert (order.kind, order.id) == ("order", "MGA-2025-00417")
    assert order.facts["status"] == "shipped"
    assert order.facts["carrier"] == "Yamato Transport"
    assert order.facts["tracking_number"] == "4521-8830-1027"
    assert order.facts["eta"] == "2025-10-18"
    assert "frieren vol. 13 x1" in order.snippet
    assert order.facts["order_access"] == "granted"


def test_unknown_order_and_product_add_no_exact_source() -> None:
    lookups = FakeLookups()
    result = retrieve("Where is MGA-2025-99999? Also One Piece vol 105", lookups, principal="C-1043")
    assert ("order", "MGA-2025-99999") in lookups.calls
    assert ("product", ("one-piece", 105)) in lookups.calls
    assert not [s for s in result.sources if s.kind == "product"]
    # Only the marker: the answer says "not in your account", and the context holds nothing else.
    assert [(s.id, s.facts) for s in result.sources if s.kind == "order"] == [
        ("MGA-2025-99999", {"order_access": "not_found"})]


def test_a_guest_gets_a_sign_in_marker_and_the_order_is_not_even_looked_up() -> None:
    lookups = FakeLookups(orders={"MGA-2025-00417": ORDER_417})
    for principal in (None, "guest:L0SM9cOFvHcCIhw="):
        result = retrieve("Where is my order MGA-2025-00417?", lookups, principal=principal)
        (order,) = [s for s in result.sources if s.kind == "order"]
        assert order.facts == {"order_access": "sign_in_required"} and not order.snippet
    assert not [c for c in lookups.calls if c[0] == "order"]


def test_another_customers_order_looks_exactly_like_no_order() -> None:
    lookups = FakeLookups(orders={"MGA-2025-00417": ORDER_417})
    theirs = retrieve("Where is my order MGA-2025-00417?", lookups, principal="C-1102")
    missing = retrieve("Where is my order MGA-2025-09999?", lookups, principal="C-1102")
    (mine,) = [s for s in theirs.sources if s.kind == "order"]
    (none,) = [s for s in missing.sources if s.kind == "order"]
    assert mine.facts == none.facts == {"order_access": "not_found"}
    assert mine.model_dump(exclude={"id", "title"}) == none.model_dump(exclude={"id", "title"})
    assert "Yamato" not in str(mine.model_dump()) and "4521" not in str(mine.model_dump())


class _CountingCounter:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def count(self, key: str) -> int:
        self.counts[key] = self.counts.get(key, 0) + 1
        return self.counts[key]


def test_order_lookups_are_limited_per_principal_per_window() -> None:
    lookups = FakeLookups(orders={"MGA-2025-00417": ORDER_417})
    now = [1_000_000.0]
    limit = OrderLookupLimit(_CountingCounter(), limit=3, window=600, clock=lambda: now[0])
    accesses = [retrieve("MGA-2025-00417?", lookups, principal="C-1043", order_limit=limit).sources[0].facts
                ["order_access"] for _ in range(5)]
    assert accesses == ["granted"] * 3 + ["rate_limited"] * 2
    assert len([c for c in lookups.calls if c[0] == "order"]) == 3  # a limited lookup never reaches the table
    # another principal has its own count; the next window starts afresh
    other = retrieve("MGA-2025-00417?", lookups, principal="C-1102", order_limit=limit).sources[0]
    assert other.facts["order_access"] == "not_found"
    now[0] += 600
    assert retrieve("MGA-2025-00417?", lookups, principal="C-1043",
                    order_limit=limit).sources[0].facts["order_access"] == "granted"
    assert all("C-1043" not in key for key in limit._counter.counts)  # type: ignore[union-attr]  # hashed


def test_no_product_lookup_without_a_volume() -> None:
    lookups = FakeLookups()
    retrieve("Do you have One Piece?", lookups)
    assert [c for c in lookups.calls if c[0] == "product"] == []


def test_every_title_volume_pair_is_looked_up() -> None:
    lookups = FakeLookups(products={
        ("naruto", 1): product_item("naruto", 1, 484, 17, "Naruto", "NARUTO -ナルト-"),
        ("bleach", 2): product_item("bleach", 2, 484, 8, "Bleach", "BLEACH"),
    })
    result = retrieve("Naruto and Bleach, vol 1 and vol 2", lookups)
    asked = {args for kind, args in lookups.calls if kind == "product"}
    assert asked == {("naruto", 1), ("naruto", 2), ("bleach", 1), ("bleach", 2)}
    assert {s.id for s in result.sources if s.kind == "product"} == {"naruto#1", "bleach#2"}


def test_retrieve_keyword_part_is_bounded_by_top_k() -> None:
    lookups = FakeLookups(orders={"MGA-2025-00417": ORDER_417})
    result = retrieve("MGA-2025-00417 送料 返品 ポイント おすすめの恋愛漫画", lookups)
    assert len([s for s in result.sources if s.kind in ("series", "policy")]) <= TOP_K
    assert len(result.sources) <= TOP_K + 1


class _FakeTable:
    def __init__(self, items: dict[str, dict[str, Any]], key: str) -> None:
        self.items, self.key, self.keys_asked = items, key, []

    def get_item(self, Key: dict[str, str]) -> dict[str, Any]:  # boto3's spelling
        self.keys_asked.append(Key)
        item = self.items.get(Key[self.key])
        return {"Item": item} if item else {}


def test_dynamo_lookups_use_the_table_keys() -> None:
    products = _FakeTable({"naruto#1": {"productId": "naruto#1"}}, "productId")
    orders = _FakeTable({}, "orderId")
    lookups = DynamoLookups(products, orders)
    assert lookups.product("naruto", 1) == {"productId": "naruto#1"}
    assert lookups.order("MGA-2025-00417") is None
    assert products.keys_asked == [{"productId": "naruto#1"}]
    assert orders.keys_asked == [{"orderId": "MGA-2025-00417"}]


class _BrokenStore:
    def search(self, *args: Any, **kwargs: Any) -> list[Any]:
        from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError

        raise OpenSearchConnectionError("N/A", "connection refused", None)


class _EmptyStore:
    calls = 0

    def search(self, *args: Any, **kwargs: Any) -> list[Any]:
        self.calls += 1
        return []


def _embedding() -> Any:
    from mangaassist.turn import QueryEmbedding

    return QueryEmbedding(model_id="amazon.titan-embed-text-v2:0", vector=[0.1] * 8)


@pytest.mark.parametrize("store_kind", ["unreachable", "empty"])
def test_retrieve_degrades_to_keywords_when_the_vector_index_cannot_answer(
        store_kind: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    from mangaassist.understand import retrieve as retrieve_module

    counted: list[str] = []
    monkeypatch.setattr(retrieve_module, "record_retrieval_degraded", counted.append)
    store = _BrokenStore() if store_kind == "unreachable" else _EmptyStore()
    result = retrieve("How do returns work at your store?", FakeLookups(), _embedding(), store)
    assert "returns" in [s.id for s in result.sources if s.kind == "policy"]  # the keyword search answered
    assert counted == [store_kind]  # the RetrievalDegraded metric, by reason
    assert any("vector index unavailable" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize(("code", "raised"), [
    ("ProvisionedThroughputExceededException", "DependencyThrottledError"),
    ("ThrottlingException", "DependencyThrottledError"),
    ("ResourceNotFoundException", "ResourceNotFoundException")])  # boto3 names modeled errors by code
def test_a_dynamodb_throttle_is_named_for_the_state_machines_retry(code: str, raised: str) -> None:
    import boto3
    from botocore.stub import Stubber

    table = boto3.resource("dynamodb", region_name="ap-northeast-1").Table("products")
    with Stubber(table.meta.client) as stub:
        stub.add_client_error("get_item", service_error_code=code, http_status_code=400)
        with pytest.raises(Exception) as caught:
            DynamoLookups(table, table).product("naruto", 1)
    assert type(caught.value).__name__ == raised


# --- recommendations and not-found records (#11; more in test_recommend.py) -------------------------------------


def test_a_like_x_question_gets_picks_by_similarity_not_by_the_words_of_the_title() -> None:
    result = retrieve("Suggest series like Black Lagoon", FakeLookups())
    picks = [s.id for s in result.sources if s.facts.get("role") == "pick"]
    assert len(picks) >= 3 and "black-lagoon" not in picks
    assert not {"black-jack", "black-butler", "black-clover"} & set(picks)  # what the keyword search found


def test_history_passed_to_retrieve_excludes_what_the_customer_read() -> None:
    history = [HistoryItem(role="user", text="I've read Berserk and Claymore.")]
    result = retrieve("Any manga like Berserk?", FakeLookups(), history=history)
    picks = {s.id for s in result.sources if s.facts.get("role") == "pick"}
    assert picks and not {"berserk", "claymore"} & picks


def test_a_volume_past_the_last_is_a_not_found_record_with_the_volume_count() -> None:
    lookups = FakeLookups()
    result = retrieve("Do you have One Piece vol 500?", lookups)
    assert ("product", ("one-piece", 500)) in lookups.calls
    missing = [s for s in result.sources if s.facts.get("role") == "volume_not_found"]
    assert [(s.id, s.facts["requested_volume"], s.facts["volumes"]) for s in missing] == [("one-piece", 500, 112)]
