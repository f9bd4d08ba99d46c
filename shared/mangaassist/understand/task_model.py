"""The learned task classifier: softmax regression over the query embedding
(plus the cue-phrase scores, see classify.features).

Trained from the labelled set in the repo (mangaassist_offline/data/eval/classify.jsonl)
with whichever embeddings model the deployment uses, because a classifier only
makes sense in the embedding space it was trained in: the saved model records
the embeddings model id and dimensions, and Classify uses it only when the turn's
embedding matches (otherwise the rules decide). Built at build or start time,
never downloaded: `mangaassist train-classifier`, or the local stack at start.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np

from mangaassist.settings import settings
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


@cache
def installed_model() -> TaskModel | None:
    """The model this deployment uses: CLASSIFIER_MODEL_PATH, else the one packaged in the layer, else none."""
    configured = settings().classifier_model_path
    if configured:
        return TaskModel.load(Path(configured))
    packaged = resources.files("mangaassist.data").joinpath(PACKAGED)
    if packaged.is_file():
        with resources.as_file(packaged) as path:
            return TaskModel.load(path)
    return None
