"""The chat page in a real headless Chromium (Debian's /usr/bin/chromium; no browser download).

Needs the `playwright` Python package and `apt-get install chromium`; skipped with
the reason when either is missing.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from mangaassist_local.gateway import Gateway
from mangaassist_local.stack import REGION

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 60_000

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any, gateway: Gateway) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(gateway.url)
    sync_api.expect(page.locator("#status")).to_have_text("connected", timeout=TIMEOUT_MS)
    yield page
    context.close()
    assert errors == [], errors


def _ask(page: Any, text: str) -> None:
    page.fill("#message", text)
    page.press("#message", "Enter")


def test_english_and_japanese_answers_render_with_meta(page: Any) -> None:
    expect = sync_api.expect
    _ask(page, "How much is Spy x Family volume 2?")
    expect(page.locator(".answer")).to_have_count(1, timeout=TIMEOUT_MS)
    expect(page.locator("#message")).to_have_value("")

    page.select_option("#locale", "ja")
    page.fill("#message", "鬼滅の刃の1巻の在庫はありますか？")
    page.click("#send")
    expect(page.locator(".answer")).to_have_count(2, timeout=TIMEOUT_MS)

    users = page.locator("#log .user").all_inner_texts()
    assert users == ["How much is Spy x Family volume 2?", "鬼滅の刃の1巻の在庫はありますか？"]
    english, japanese = page.locator(".answer").all()
    assert english.locator(".text").inner_text().strip()
    assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", japanese.locator(".text").inner_text())
    for answer in (english, japanese):
        meta = answer.locator(".meta").inner_text()
        for label in ("task:", "lang:", "cache:", "cost: $", "validation:"):
            assert label in meta, meta
        assert answer.get_attribute("data-turn-id")
    assert "lang: ja" in japanese.locator(".meta").inner_text()


def test_error_frames_are_shown_with_their_code(page: Any) -> None:
    _ask(page, "x" * 2001)
    error = page.locator(".error")
    sync_api.expect(error).to_have_count(1, timeout=TIMEOUT_MS)
    assert error.locator(".code").inner_text() == "MESSAGE_TOO_LONG"
    assert page.locator(".answer").count() == 0


def test_session_id_persists_across_reloads(page: Any) -> None:
    first = page.evaluate("sessionStorage.getItem('mangaassist.sessionId')")
    assert first and re.fullmatch(r"[A-Za-z0-9_.:-]{1,128}", first)
    page.reload()
    sync_api.expect(page.locator("#status")).to_have_text("connected", timeout=TIMEOUT_MS)
    assert page.evaluate("sessionStorage.getItem('mangaassist.sessionId')") == first


def test_page_reconnects_when_the_socket_closes(page: Any, gateway: Gateway) -> None:
    client = boto3.client("apigatewaymanagementapi", endpoint_url=gateway.management_endpoint, region_name=REGION,
                          aws_access_key_id="local", aws_secret_access_key="local")
    old = set(gateway.connection_ids())  # this module's only open page holds these
    assert old
    for connection_id in old:
        client.delete_connection(ConnectionId=connection_id)
    for _ in range(200):  # the page comes back on a new connection by itself
        if set(gateway.connection_ids()) - old:
            break
        page.wait_for_timeout(50)
    assert set(gateway.connection_ids()) - old, "the page did not reconnect"
    sync_api.expect(page.locator("#status")).to_have_text("connected", timeout=TIMEOUT_MS)
    _ask(page, "Hello, are you there?")
    sync_api.expect(page.locator(".answer")).to_have_count(1, timeout=TIMEOUT_MS)


def test_signing_in_as_a_sample_customer_shows_their_order(page: Any) -> None:
    expect = sync_api.expect
    expect(page.locator("#customer option[value='C-1043']")).to_have_count(1, timeout=TIMEOUT_MS)
    _ask(page, "Where is my order MGA-2025-00102?")  # a guest: asked to sign in, nothing revealed
    expect(page.locator(".answer")).to_have_count(1, timeout=TIMEOUT_MS)
    guest = page.locator(".answer .text").nth(0).inner_text()
    assert "sign in" in guest and "Yamato" not in guest, guest
    page.select_option("#customer", "C-1043")
    _ask(page, "What is the status of order MGA-2025-00102?")  # sent on the signed-in connection
    expect(page.locator(".answer")).to_have_count(2, timeout=TIMEOUT_MS)
    owner = page.locator(".answer .text").nth(1).inner_text()
    assert "Yamato Transport" in owner, owner
    assert page.evaluate("sessionStorage.getItem('mangaassist.customer')") == "C-1043"
