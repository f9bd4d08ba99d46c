"""Canned answers for when no model answer can be given: polite, in the user's language."""

from __future__ import annotations

CANNED = {
    "ja": "申し訳ありません。ただいまご質問にお答えできませんでした。少し時間をおいて再度お試しいただくか、"
    "注文番号を添えてカスタマーサポートまでお問い合わせください。",
    "en": "Sorry, I couldn't answer that just now. Please try again in a moment, or contact customer support "
    "with your order number and we'll help you right away.",
}


# At 100% of the daily budget no turn starts (chat.limits): a reply that says so, without blaming the customer.
BUDGET_EXHAUSTED = {
    "ja": "申し訳ありません。本日はお問い合わせが大変多く、チャットでのご案内を一時的に停止しております。"
    "明日あらためてお試しいただくか、お急ぎの場合はカスタマーサポートまでお問い合わせください。",
    "en": "Sorry, our chat assistant is taking a break for the rest of today because of very high demand. "
    "Please try again tomorrow, or contact customer support if it's urgent and we'll help you right away.",
}


def canned_text(language: str, reason: str | None = None) -> str:
    texts = BUDGET_EXHAUSTED if reason == "budget_exhausted" else CANNED
    return texts.get(language, texts["en"])
