"""Canned answers for when no model answer can be given: polite, in the user's language."""

from __future__ import annotations

CANNED = {
    "ja": "申し訳ありません。ただいまご質問にお答えできませんでした。少し時間をおいて再度お試しいただくか、"
    "注文番号を添えてカスタマーサポートまでお問い合わせください。",
    "en": "Sorry, I couldn't answer that just now. Please try again in a moment, or contact customer support "
    "with your order number and we'll help you right away.",
}


def canned_text(language: str) -> str:
    return CANNED.get(language, CANNED["en"])
