"""Validate an answer before it reaches the customer.

Checks: format, length, language matches the user's, safety (PII, prompt leaks, requests for personal data,
jailbreak compliance), links and markup, expected keywords, grounding against the sources' texts. Decision: accept;
a safety failure falls back at once; any other failure retries once on the other tier, then falls back.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal

from mangaassist.answer.prompts import prompt_canary
from mangaassist.reply.content import content_failures
from mangaassist.reply.grounding import SourceText, ground, source_texts
from mangaassist.reply.leaks import leak_failures
from mangaassist.reply.pii import pii_failures
from mangaassist.settings import settings
from mangaassist.text import detect_language
from mangaassist.textnorm import normalize
from mangaassist.turn import Answer, Language, SourceRef, Task, Validation

VALIDATOR_VERSION = "2"  # bump when a check changes: cached answers passed the old checks
MAX_CHARS = 2000
MIN_CHARS = 2

_EXPECTED = {Task.ORDER_STATUS: ("order", "注文", "mga-")}
# Failures no retry may fix: the answer must never reach the customer, whatever the other tier says.
SAFETY_PREFIXES = ("pii:", "leak:", "jailbreak:", "request:")
Decision = Literal["accept", "retry", "fallback"]


def safety_failures(text: str, known: Iterable[str] = (), context_facts: Iterable[str] = (),
                    query: str = "") -> list[str]:
    """PII (numbers stated by the `known` source texts excepted), leaks, personal-data requests, jailbreaks."""
    failures = pii_failures(text, known)
    failures += leak_failures(text, canary=prompt_canary(), context_facts=context_facts)
    failures += [f for f in content_failures(text, query) if f.startswith(SAFETY_PREFIXES)]
    return failures


def language_matches(text: str, expected: str) -> bool:
    got = detect_language(text)
    if expected == "ja":
        return got in (Language.JA, Language.MIXED)
    return got in (Language.EN, Language.MIXED) or not re.search(r"[\u3040-\u30ff]", text)


def assess(response: str, texts: list[SourceText], *, language: str, task: Task = Task.UNKNOWN, query: str = "",
           context_facts: Iterable[str] = ()) -> list[str]:
    """Every failure of a response to `query` given its sources' texts: what Validate and `mangaassist validate`
    both run."""
    text = response.strip()
    failures: list[str] = []
    if not MIN_CHARS <= len(text) <= MAX_CHARS:
        failures.append("length")
    if text.startswith(("{", "[", "<")):
        failures.append("format")
    if text and not language_matches(text, language):
        failures.append(f"language:{language}")
    failures += safety_failures(text, [t.text for t in texts], context_facts, query)
    allowlist = settings().link_allowlist.split(",")
    failures += [f for f in content_failures(text, query, allowlist) if not f.startswith(SAFETY_PREFIXES)]
    expected = _EXPECTED.get(task)
    if expected and not any(word in normalize(text) for word in expected):
        failures.append("keywords:expected")
    failures += [f"ungrounded:{claim}" for claim in ground(text, texts).unsupported]
    return failures


def decide(failures: list[str], can_retry: bool) -> Decision:
    if not failures:
        return "accept"
    if any(f.startswith(SAFETY_PREFIXES) for f in failures) or not can_retry:
        return "fallback"
    return "retry"


def _facts_blocks(sources: list[SourceRef]) -> list[str]:
    return ["; ".join(f"{k}={v}" for k, v in s.facts.items() if v not in (None, "")) for s in sources]


def validate(answer: Answer, task: Task, language: str, sources: list[SourceRef], query: str = "") -> Validation:
    failures = assess(answer.text, source_texts(sources), language=language, task=task, query=query,
                      context_facts=_facts_blocks(sources))
    can_retry = not answer.retried and answer.target.value != "canned"
    return Validation(decision=decide(failures, can_retry), failures=failures)
