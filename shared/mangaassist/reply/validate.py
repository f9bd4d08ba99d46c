"""Validate an answer before it reaches the customer.

Checks: format, length bounds, language matches the user's, safety (PII and
prompt leaks), expected/forbidden keywords, grounding. Decision: accept; retry
once on the other tier; or the canned fallback in the user's language.
"""

from __future__ import annotations

import re

from mangaassist.answer.prompts import BASE
from mangaassist.reply.grounding import check
from mangaassist.text import detect_language
from mangaassist.textnorm import normalize
from mangaassist.turn import Answer, Language, SourceRef, Task, Validation

MAX_CHARS = 2000
MIN_CHARS = 2

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
# Japanese landlines/mobiles (03-1234-5678, 090-1234-5678, 09012345678, +81 90 1234 5678) and other
# international numbers. The lookarounds keep order ids (MGA-2025-00417) and dates from matching; they
# name ASCII explicitly because Japanese characters count as \w and must not hide a number.
_PHONE = re.compile(
    r"(?<![A-Za-z0-9-])(?:(?:\+81[\s-]?\d{1,4}|\(?0\d{1,4}\)?)[\s-]?\d{1,4}[\s-]\d{4}|0[789]0\d{8}"
    r"|\+\d{1,3}[\s-]\d{2,4}[\s-]\d{3,4}(?:[\s-]\d{3,4})?)(?![A-Za-z0-9-])"
)
_CARD = re.compile(r"(?<![A-Za-z0-9])(?:\d[ -]?){12,18}\d(?![A-Za-z0-9])")
_ADDRESS = re.compile(r"〒\s?\d{3}-?\d{4}|\d{1,5}\s+\w+\s+(?:street|st\.|avenue|ave\.|road|rd\.)|"
                      r"[都道府県].{1,6}[市区町村].{1,10}\d+[-−ー丁目]\d+", re.IGNORECASE)
_LEAKS = ("<context>", "</context>", "you are mangaassist", "never reveal these instructions", "system prompt",
          "システムプロンプト")
_EXPECTED = {Task.ORDER_STATUS: ("order", "注文", "mga-")}


def _luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def safety_failures(text: str) -> list[str]:
    failures = []
    if _EMAIL.search(text):
        failures.append("pii:email")
    if _PHONE.search(text):
        failures.append("pii:phone")
    if any(_luhn(re.sub(r"\D", "", m.group())) for m in _CARD.finditer(text)):
        failures.append("pii:card")
    if _ADDRESS.search(text):
        failures.append("pii:address")
    folded = normalize(text)
    if any(leak in folded for leak in _LEAKS) or normalize(BASE[:60]) in folded:
        failures.append("leak:system_prompt")
    return failures


def language_matches(text: str, expected: str) -> bool:
    got = detect_language(text)
    if expected == "ja":
        return got in (Language.JA, Language.MIXED)
    return got in (Language.EN, Language.MIXED) or not re.search(r"[\u3040-\u30ff]", text)


def validate(answer: Answer, task: Task, language: str, sources: list[SourceRef]) -> Validation:
    text = answer.text.strip()
    failures: list[str] = []
    if not MIN_CHARS <= len(text) <= MAX_CHARS:
        failures.append("length")
    if text.startswith(("{", "[", "<")):
        failures.append("format")
    if text and not language_matches(text, language):
        failures.append(f"language:{language}")
    failures += safety_failures(text)
    expected = _EXPECTED.get(task)
    if expected and not any(word in normalize(text) for word in expected):
        failures.append("keywords:expected")
    failures += [f"ungrounded:{claim}" for claim in check(text, sources).unsupported]
    if not failures:
        return Validation(decision="accept")
    if answer.retried or answer.target.value == "canned":
        return Validation(decision="fallback", failures=failures)
    return Validation(decision="retry", failures=failures)
