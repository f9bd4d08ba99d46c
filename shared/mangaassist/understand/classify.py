"""Classify: task, language, complexity, manga-specific flag and entities.

The task comes from the learned classifier over the turn's query embedding and
the cue-phrase scores (task_model.py) when one is installed for that embedding
space; exact rules win where they are exact (an order id means order_status); the
weighted English and Japanese cue phrases alone decide when there is no model or
no embedding (the EmbedQuery state failed).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mangaassist.text import detect_language, extract_entities
from mangaassist.textnorm import normalize
from mangaassist.turn import Classification, QueryEmbedding, Task
from mangaassist.understand.task_model import TaskModel

# Cue phrases per task, matched on NFKC-casefolded text. Weights favour phrases
# that rarely appear outside their task.
_CUES: dict[Task, dict[str, float]] = {
    Task.GREETING: {
        "hello": 2, "hi ": 1.5, "hey": 1.5, "good morning": 2, "good evening": 2, "thanks": 1.5,
        "thank you": 1.5, "こんにちは": 2, "こんばんは": 2, "おはよう": 2, "ありがとう": 1.5, "はじめまして": 2,
        "よろしく": 2,
    },
    Task.ORDER_STATUS: {
        "my order": 2.5, "order status": 3, "tracking": 2, "track my": 2.5, "where is my": 2.5, "shipped yet": 2.5,
        "delivery date": 1.5, "注文": 2, "配送状況": 3, "追跡": 2.5, "届かない": 2.5, "いつ届": 2.5, "発送": 1.5,
        "注文番号": 1,
    },
    Task.TRANSLATION: {
        "translate": 3, "translation": 2.5, "in english": 2, "in japanese": 2, "what does": 1, "mean in": 1.5,
        "翻訳": 3, "英語で": 2.5, "日本語で": 2, "訳して": 3, "意味": 1.5,
    },
    Task.SUMMARIZATION: {
        "summary": 3, "summarize": 3, "summarise": 3, "what is": 0.5, "about?": 1.5, "plot": 2, "synopsis": 3,
        "recap": 2.5, "あらすじ": 3, "要約": 3, "どんな話": 3, "まとめ": 2, "内容": 1.5, "what happens in": 3,
        "story of": 2,
    },
    Task.COMPARISON: {
        "compare": 3, "comparison": 3, " vs ": 2.5, " vs.": 2.5, "versus": 3, "difference between": 3,
        "better than": 2, "which is better": 3, "比較": 3, "違い": 3, "どっち": 2.5, "どちら": 2, "比べ": 3,
    },
    Task.DISCUSSION: {
        "theme": 2.5, "themes": 2.5, "symbolism": 3, "why did": 2, "ending": 1.5, "opinion": 2,
        "analysis": 2.5, "meaning of": 2, "what do you think": 3, "character development": 2.5, "考察": 3,
        "テーマ": 2.5, "どう思": 3, "結末": 2, "伏線": 3, "象徴": 3,
    },
    Task.RECOMMENDATION: {
        "recommend": 3, "suggest": 2.5, "similar to": 3, "what should i read": 3, "something like": 2.5,
        "if i liked": 2.5, "if i like": 2.5, "good manga": 1.5, "おすすめ": 3, "オススメ": 3, "お勧め": 3,
        "似ている": 2.5, "似た": 2, "読むべき": 2.5, "manga like": 3, "anything like": 3, "for beginners": 2,
        "初心者": 2.5, "向けの": 1.5, "漫画を教えて": 2.5, "マンガを教えて": 2.5,
    },
    Task.PRODUCT_SEARCH: {
        "do you have": 2.5, "in stock": 3, "price": 2, "how much": 2, "buy": 1.5, "available": 1.5,
        "looking for": 2, "find": 1, "search": 1.5, "cost": 1.5, "在庫": 3, "値段": 2.5, "価格": 2.5,
        "いくら": 2.5, "ありますか": 2, "探して": 2, "買": 1.5, "購入": 1.5,
    },
    Task.FAQ: {
        "return": 2, "refund": 2.5, "shipping": 2, "payment": 2, "pay with": 2, "points": 2, "gift wrap": 3,
        "pre-order": 2.5, "preorder": 2.5, "cancel": 2, "policy": 2, "opening hours": 2.5, "contact": 1.5,
        "digital": 1.5, "edition": 1.5, "返品": 3, "返金": 3, "送料": 3, "支払": 2.5, "ポイント": 2.5,
        "ラッピング": 3, "予約": 2, "キャンセル": 2.5, "営業時間": 3, "問い合わせ": 2, "電子書籍": 2,
        "ship to": 3, "do you ship": 3, "international": 2, "how do i cancel": 3, "cash on delivery": 3,
        "海外発送": 3.5, "代引き": 3, "代金引換": 3,
    },
}

# Tiebreak order: the more specific task wins an equal score.
_PRIORITY = [
    Task.ORDER_STATUS, Task.TRANSLATION, Task.COMPARISON, Task.DISCUSSION, Task.SUMMARIZATION,
    Task.RECOMMENDATION, Task.FAQ, Task.PRODUCT_SEARCH, Task.GREETING,
]

# How hard each task is for a small model, before length and entity counts.
_BASE_COMPLEXITY = {
    Task.GREETING: 0.05, Task.FAQ: 0.2, Task.PRODUCT_SEARCH: 0.2, Task.ORDER_STATUS: 0.15,
    Task.SUMMARIZATION: 0.4, Task.RECOMMENDATION: 0.45, Task.TRANSLATION: 0.5, Task.COMPARISON: 0.6,
    Task.DISCUSSION: 0.65, Task.UNKNOWN: 0.4,
}
_MANGA_TASKS = {Task.RECOMMENDATION, Task.DISCUSSION, Task.SUMMARIZATION, Task.COMPARISON}
_MANGA_WORDS = ("manga", "漫画", "マンガ", "まんが", "volume", "巻", "author", "作者", "shonen", "shojo", "seinen")


def _score_tasks(folded: str) -> dict[Task, float]:
    padded = f" {folded} "
    return {task: sum(w for cue, w in cues.items() if cue in padded) for task, cues in _CUES.items()}


def features(message: str, vector: Sequence[float]) -> np.ndarray:
    """The learned model's input: the embedding, then the cue scores and entity flags (weighted down so
    the embedding leads; on the labelled dev split this lifts accuracy from 0.86 to 0.89)."""
    scores = _score_tasks(normalize(message))
    entities = extract_entities(message)
    cues = [scores[task] / 5 for task in _CUES] + [bool(entities.order_ids), bool(entities.titles),
                                                    bool(entities.volumes)]
    return np.concatenate([np.asarray(vector, dtype=np.float32), np.asarray(cues, dtype=np.float32) / 10])


def _learned(message: str, model: TaskModel | None, embedding: QueryEmbedding | None) -> tuple[Task, float] | None:
    if model is None or embedding is None or not model.accepts(embedding.model_id, embedding.vector):
        return None
    return model.predict(features(message, embedding.vector))


def classify(message: str, embedding: QueryEmbedding | None = None, model: TaskModel | None = None) -> Classification:
    folded = normalize(message)
    entities = extract_entities(message)
    scores = _score_tasks(folded)
    if entities.order_ids:
        scores[Task.ORDER_STATUS] += 5  # an order id is an exact signal
    if entities.titles and entities.volumes:
        scores[Task.PRODUCT_SEARCH] += 1.5
    if len(entities.titles) >= 2:
        scores[Task.COMPARISON] += 1
    ranked = sorted(scores.items(), key=lambda item: (-item[1], _PRIORITY.index(item[0])))
    (task, best), (_, second) = ranked[0], ranked[1]
    if best == 0:
        task = Task.PRODUCT_SEARCH if entities.titles else Task.UNKNOWN
    # A greeting cue inside a longer question does not make it a greeting.
    if task is Task.GREETING and len(folded) > 40 and second > 0:
        task = ranked[1][0]
    confidence = 0.35 if best == 0 else min(0.95, 0.55 + 0.1 * (best - second))
    learned = _learned(message, model, embedding)
    if entities.order_ids:
        task, confidence = Task.ORDER_STATUS, max(confidence, 0.95)  # an order id is exact: the order decides
    elif learned is not None:
        task, confidence = learned
    length_factor = min(len(folded) / 800, 0.15)
    complexity = min(1.0, _BASE_COMPLEXITY[task] + length_factor + 0.05 * max(len(entities.titles) - 1, 0))
    manga_specific = task in _MANGA_TASKS and (bool(entities.titles) or any(w in folded for w in _MANGA_WORDS))
    return Classification(
        task=task,
        language=detect_language(message),
        complexity=round(complexity, 3),
        manga_specific=manga_specific,
        confidence=round(confidence, 3),
        entities=entities,
    )
