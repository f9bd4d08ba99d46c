"""Training the task classifier from the labelled questions in this package (data/eval/classify.jsonl).

The layer only loads and applies a trained model (mangaassist.understand.task_model); fitting happens here,
at build or start time, in whichever embedding space the deployment uses.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from importlib import resources

import numpy as np

from mangaassist.understand.classify import features
from mangaassist.understand.task_model import FEATURES_VERSION, SCALE, TaskModel


def labelled(split: str | None = "train") -> list[dict[str, str]]:
    """The labelled questions (text, task, language, split) from the repo."""
    text = resources.files("mangaassist_offline.data").joinpath("eval/classify.jsonl").read_text("utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [row for row in rows if split is None or row["split"] == split]


def fit(features: np.ndarray, tasks: Sequence[str], embedding_model_id: str, dimensions: int, l2: float = 1e-3,
        rate: float = 0.5, steps: int = 500) -> TaskModel:
    """Full-batch gradient descent on the softmax cross-entropy; deterministic (zero init)."""
    labels = tuple(sorted(set(tasks)))
    onehot = np.eye(len(labels))[[labels.index(task) for task in tasks]]
    x = features.astype(np.float64) * SCALE
    weights, bias = np.zeros((x.shape[1], len(labels))), np.zeros(len(labels))
    for _ in range(steps):
        logits = x @ weights + bias
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)
        grad = (probs - onehot) / len(x)
        weights -= rate * (x.T @ grad + l2 * weights)
        bias -= rate * grad.sum(axis=0)
    return TaskModel(labels=labels, weights=weights.astype(np.float32), bias=bias.astype(np.float32),
                     embedding_model_id=embedding_model_id, dimensions=dimensions)


def training_fingerprint(embedding_model_id: str, dimensions: int) -> str:
    """Changes when the labelled set or the embedding space changes: the key of a cached model."""
    data = resources.files("mangaassist_offline.data").joinpath("eval/classify.jsonl").read_bytes()
    key = f"|{embedding_model_id}|{dimensions}|{FEATURES_VERSION}|all-splits"
    return hashlib.sha256(data + key.encode()).hexdigest()[:16]


def train_task_model(embed_query: Callable[[str], Sequence[float]], embedding_model_id: str,
                     split: str | None = None) -> TaskModel:
    """Fit the learned classifier in `embed_query`'s embedding space.

    The shipped model learns from every labelled question (split=None); scripts/eval_classifier.py
    trains on the train split alone to measure accuracy on the held-out dev split.
    """
    rows = labelled(split)
    vectors = [embed_query(row["text"]) for row in rows]
    matrix = np.array([features(row["text"], v) for row, v in zip(rows, vectors, strict=True)], dtype=np.float32)
    return fit(matrix, [row["task"] for row in rows], embedding_model_id, dimensions=len(vectors[0]))
