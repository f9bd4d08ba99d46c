"""The learned task classifier: softmax regression over the query embedding
(plus the cue-phrase scores, see classify.features).

Trained from the labelled set in the repo (data/eval/classify.jsonl)
with whichever embeddings model the deployment uses, because a classifier only
makes sense in the embedding space it was trained in: the saved model records
the embeddings model id and dimensions, and Classify uses it only when the turn's
embedding matches (otherwise the rules decide). Built at build or start time,
never downloaded: `mangaassist train-classifier`, or the local stack at start.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from mangaassist.turn import Task

FEATURES_VERSION = "e+cues-v1"  # bump when classify.features changes: cached models are then retrained
SCALE = 10.0  # unit-length embeddings have small dot products; scaling speeds up the fit
PACKAGED = "models/task_model.npz"


@dataclass(frozen=True)
class TaskModel:
    labels: tuple[str, ...]
    weights: np.ndarray  # (embedding dimensions + cue features, tasks)
    bias: np.ndarray  # (tasks,)
    embedding_model_id: str

    dimensions: int  # of the embedding part of the features

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        logits = np.asarray(features, dtype=np.float32) * SCALE @ self.weights + self.bias
        logits -= logits.max()
        odds = np.exp(logits)
        return odds / odds.sum()

    def predict(self, features: np.ndarray) -> tuple[Task, float]:
        probs = self.probabilities(features)
        best = int(probs.argmax())
        return Task(self.labels[best]), float(probs[best])

    def accepts(self, model_id: str, vector: Sequence[float]) -> bool:
        return model_id == self.embedding_model_id and len(vector) == self.dimensions

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(path, weights=self.weights, bias=self.bias, labels=np.array(self.labels),
                            embedding_model_id=np.array(self.embedding_model_id), dimensions=np.array(self.dimensions))

    @classmethod
    def load(cls, path: Path) -> TaskModel:
        with np.load(path, allow_pickle=False) as data:
            return cls(labels=tuple(str(x) for x in data["labels"]), weights=data["weights"], bias=data["bias"],
                       embedding_model_id=str(data["embedding_model_id"]), dimensions=int(data["dimensions"]))


def labelled(split: str | None = "train") -> list[dict[str, str]]:
    """The labelled questions (text, task, language, split) from the repo."""
    text = resources.files("mangaassist.data").joinpath("eval/classify.jsonl").read_text("utf-8")
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
    data = resources.files("mangaassist.data").joinpath("eval/classify.jsonl").read_bytes()
    key = f"|{embedding_model_id}|{dimensions}|{FEATURES_VERSION}|all-splits"
    return hashlib.sha256(data + key.encode()).hexdigest()[:16]


@cache
def installed_model() -> TaskModel | None:
    """The model this deployment uses: CLASSIFIER_MODEL_PATH, else the one packaged in the layer, else none."""
    configured = os.environ.get("CLASSIFIER_MODEL_PATH")
    if configured:
        return TaskModel.load(Path(configured))
    packaged = resources.files("mangaassist.data").joinpath(PACKAGED)
    if packaged.is_file():
        with resources.as_file(packaged) as path:
            return TaskModel.load(path)
    return None
