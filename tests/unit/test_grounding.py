"""grounding.py: which facts an answer states and whether the sources support them."""

from __future__ import annotations

import pytest

from mangaassist.reply.grounding import Grounding, check

from .conftest import order_source, product_source, series_source

ONE_PIECE_105 = product_source("one-piece", 105, price_jpy=528, stock=7)
AKIRA_2 = product_source("akira", 2, price_jpy=1320, stock=10, title_en="Akira")
ORDER = order_source("MGA-2025-00417")


# --- prices ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "It costs ¥528.",
        "It costs ￥528.",  # full-width yen sign
        "It costs 528円.",
        "It costs ５２８円.",  # full-width digits
        "It costs 528 yen.",
        "It costs JPY 528.",
        "It costs 528 JPY.",
        "Two volumes together are ¥1,056.",  # 2 x 528: prices may be quoted for a few volumes
        "ワンピース第105巻は528円です。",
    ],
)
def test_supported_price(answer: str) -> None:
    result = check(answer, [ONE_PIECE_105])
    assert any(c.startswith("price:") for c in result.claims)
    assert result.unsupported == []


@pytest.mark.parametrize(("answer", "claim"), [("It costs ¥600.", "price:600"), ("It costs 600円.", "price:600"),
                                               ("It costs 600 yen.", "price:600"),
                                               ("Nine volumes cost ¥5,280.", "price:5280")])
def test_unsupported_price(answer: str, claim: str) -> None:
    result = check(answer, [ONE_PIECE_105])
    assert result.unsupported == [claim]
    assert result.share == 0.0


@pytest.mark.parametrize("answer", ["Akira vol. 2 is ¥1,320.", "Akira vol. 2 is 1,320円.",
                                    "Akira vol. 2 is 1,320 yen."])
def test_price_with_thousands_separator_is_read_as_one_number(answer: str) -> None:
    result = check(answer, [AKIRA_2])
    assert "price:1320" in result.claims
    assert result.unsupported == []


def test_wrong_price_with_thousands_separator_is_unsupported() -> None:
    assert check("Akira vol. 2 is ¥1,230.", [AKIRA_2]).unsupported == ["price:1230"]


def test_series_price_supports_a_price_claim() -> None:
    assert check("Each volume is ¥770.", [series_source("vinland-saga", price_jpy=770)]).unsupported == []


def test_price_without_any_priced_source_is_unsupported() -> None:
    assert check("It costs ¥528.", [ORDER]).unsupported == ["price:528"]


# --- volumes -----------------------------------------------------------------------------------------------------


def test_volume_within_a_retrieved_series_is_supported() -> None:
    result = check("One Piece volume 105 is here.", [ONE_PIECE_105])
    assert "volume:105" in result.claims
    assert result.unsupported == []


@pytest.mark.parametrize("answer", ["One Piece volume 200 is here.", "ワンピース第200巻があります。"])
def test_volume_beyond_the_series_is_unsupported(answer: str) -> None:
    # One Piece has 112 volumes in the catalog.
    assert check(answer, [ONE_PIECE_105]).unsupported == ["volume:200"]


def test_volume_without_a_retrieved_series_is_unsupported() -> None:
    assert "volume:3" in check("Volume 3 is out.", [ORDER]).unsupported


# --- stock -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["We have 7 copies left.", "7 in stock.", "在庫は7冊です。", "在庫が7点あります。"])
def test_supported_stock(answer: str) -> None:
    result = check(answer, [ONE_PIECE_105])
    assert result.claims == ["stock:7"]
    assert result.unsupported == []


@pytest.mark.parametrize("answer", ["We have 9 copies left.", "在庫は3冊です。"])
def test_unsupported_stock(answer: str) -> None:
    result = check(answer, [ONE_PIECE_105])
    assert len(result.unsupported) == 1
    assert result.unsupported[0].startswith("stock:")


# --- order ids ---------------------------------------------------------------------------------------------------


def test_retrieved_order_id_is_supported() -> None:
    result = check("Your order MGA-2025-00417 has shipped.", [ORDER])
    assert result.claims == ["order:MGA-2025-00417"]
    assert result.unsupported == []


def test_other_order_id_is_unsupported() -> None:
    assert check("Your order MGA-2025-00418 has shipped.", [ORDER]).unsupported == ["order:MGA-2025-00418"]


def test_order_answer_with_tracking_number_and_date_claims_only_the_order() -> None:
    answer = "Order MGA-2025-00417 shipped with Yamato Transport (tracking 4521-8830-1027) and arrives 2025-10-18."
    result = check(answer, [ORDER])
    assert result.claims == ["order:MGA-2025-00417"]
    assert result.share == 1.0


# --- titles ------------------------------------------------------------------------------------------------------


def test_title_of_a_retrieved_product_or_series_is_supported() -> None:
    assert check("One Piece is great.", [ONE_PIECE_105]).unsupported == []
    assert check("ヴィンランド・サガは名作です。", [series_source("vinland-saga")]).unsupported == []


def test_title_not_in_the_sources_is_unsupported() -> None:
    result = check("You might enjoy Naruto.", [ONE_PIECE_105])
    assert result.claims == ["title:naruto"]
    assert result.unsupported == ["title:naruto"]


# --- share -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("answer", ["Hello! How can I help you today?", "こんにちは！", "Sure."])
def test_share_is_none_without_claims(answer: str) -> None:
    result = check(answer, [ONE_PIECE_105])
    assert result.claims == []
    assert result.share is None


def test_share_counts_supported_claims() -> None:
    result = check("One Piece volume 105 is ¥600 and we have 7 copies left.", [ONE_PIECE_105])
    assert sorted(result.claims) == ["price:600", "stock:7", "title:one-piece", "volume:105"]
    assert result.unsupported == ["price:600"]
    assert result.share == pytest.approx(0.75)


def test_share_property() -> None:
    assert Grounding().share is None
    assert Grounding(claims=["a", "b"], unsupported=["b"]).share == 0.5
    assert Grounding(claims=["a"], unsupported=[]).share == 1.0


def test_amounts_stated_by_a_retrieved_policy_are_grounded():
    from mangaassist.catalog.store import policies

    from .conftest import policy_source

    body = policies()["shipping-domestic"].body_en
    answer = body  # the local model quotes the policy verbatim
    assert check(answer, [policy_source("shipping-domestic")]).unsupported == []
    assert check("Shipping costs ¥123,457.", [policy_source("shipping-domestic")]).unsupported == ["price:123457"]
