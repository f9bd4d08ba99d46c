"""The composite score of one answer (SPEC §3): 0.40 semantic + 0.25 keywords + 0.15 structure + 0.20 language.

Each part is in [0, 1]:
- semantic: cosine similarity of the answer's and the reference's embeddings (the project's multilingual
  embeddings, so a Japanese answer can be compared with a Japanese reference), clipped at 0;
- keywords: share of expected keywords present x share of forbidden keywords absent (a forbidden keyword is
  a wrong fact or a leak, so it must cost more than a missing one: it scales the whole part down);
- structure: share of the case's structure checks passed (length, sentences, list items, must-include marks);
- language: 1 when the answer is in the expected language, 0.5 when it is mixed, 0 otherwise.
An error frame or no reply scores 0 on every part.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from mangaassist.quality.golden import GoldenCase, Structure
from mangaassist.text import detect_language
from mangaassist.textnorm import normalize

WEIGHTS = {"semantic": 0.40, "keywords": 0.25, "structure": 0.15, "language": 0.20}
_ABBREVIATIONS = re.compile(r"\b(?:vol|vols|no|dr|mr|mrs|ms|st|etc|e\.g|i\.e|approx)\.", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|[。！？]+|\n+")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•・]|\d+[.)])\s*\S", re.MULTILINE)
_MARKS = {
    "price": re.compile(r"[¥￥]\s?\d|\d[\d,]*\s?(?:円|yen\b)", re.IGNORECASE),
    "order_id": re.compile(r"\bMGA-\d{4}-\d{5}\b"),
    "question": re.compile(r"[?？]"),
    "date": re.compile(r"\d{4}-\d{2}-\d{2}|\d{4}年\d{1,2}月\d{1,2}日"),
}


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    if len(a) != len(b) or not a:
        raise ValueError(f"cannot compare vectors of {len(a)} and {len(b)} dimensions")
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def semantic_score(answer_vector: Sequence[float], reference_vector: Sequence[float]) -> float:
    return min(1.0, max(0.0, cosine(answer_vector, reference_vector)))


def keyword_score(text: str, expected: Sequence[str], forbidden: Sequence[str]) -> tuple[float, list[str], list[str]]:
    """(score, expected keywords missing, forbidden keywords found); matched on NFKC-casefolded text."""
    folded = normalize(text)
    missing = [k for k in expected if normalize(k) not in folded]
    found = [k for k in forbidden if normalize(k) in folded]
    coverage = 1 - len(missing) / len(expected) if expected else 1.0
    clean = 1 - len(found) / len(forbidden) if forbidden else 1.0
    return coverage * clean, missing, found


def count_sentences(text: str) -> int:
    body = _ABBREVIATIONS.sub("", text)
    return sum(1 for part in _SENTENCE_END.split(body) if part.strip())


def structure_score(text: str, structure: Structure) -> tuple[float, list[str]]:
    """(share of checks passed, the checks that failed)."""
    failed: list[str] = []
    checks = 0
    if structure.max_chars is not None:
        checks += 1
        if len(text) > structure.max_chars:
            failed.append(f"{len(text)} chars > {structure.max_chars}")
    if structure.max_sentences is not None:
        checks += 1
        sentences = count_sentences(text)
        if sentences > structure.max_sentences:
            failed.append(f"{sentences} sentences > {structure.max_sentences}")
    if structure.min_items is not None:
        checks += 1
        items = len(_LIST_ITEM.findall(text))
        if items < structure.min_items:
            failed.append(f"{items} list items < {structure.min_items}")
    for mark in structure.must:
        checks += 1
        if not _MARKS[mark].search(text):
            failed.append(f"no {mark}")
    return (1 - len(failed) / checks if checks else 1.0), failed


def language_score(text: str, expected: str) -> tuple[float, str]:
    """(score, the detected language)."""
    if not text.strip():
        return 0.0, "none"
    detected = detect_language(text).value
    return (1.0 if detected == expected else 0.5 if detected == "mixed" else 0.0), detected


@dataclass(frozen=True)
class CaseScore:
    case_id: str
    task: str
    language: str
    composite: float
    semantic: float = 0.0
    keywords: float = 0.0
    structure: float = 0.0
    language_match: float = 0.0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def composite(semantic: float, keywords: float, structure: float, language: float) -> float:
    return round(WEIGHTS["semantic"] * semantic + WEIGHTS["keywords"] * keywords
                 + WEIGHTS["structure"] * structure + WEIGHTS["language"] * language, 4)


def score_answer(case: GoldenCase, text: str, answer_vector: Sequence[float],
                 reference_vector: Sequence[float]) -> CaseScore:
    semantic = semantic_score(answer_vector, reference_vector)
    keywords, missing, found = keyword_score(text, case.expected_keywords, case.forbidden_keywords)
    structure, failed = structure_score(text, case.structure)
    language, detected = language_score(text, case.language)
    problems = ([f"missing {k!r}" for k in missing] + [f"forbidden {k!r}" for k in found] + failed
                + ([f"language {detected}, expected {case.language}"] if language < 1 else []))
    return CaseScore(case.id, case.task.value, case.language, composite(semantic, keywords, structure, language),
                     round(semantic, 4), round(keywords, 4), round(structure, 4), language, problems)


def failed_case(case: GoldenCase, reason: str) -> CaseScore:
    """No answer to score (an error frame, a timeout, a closed connection): 0 on every part."""
    return CaseScore(case.id, case.task.value, case.language, 0.0, problems=[reason])
