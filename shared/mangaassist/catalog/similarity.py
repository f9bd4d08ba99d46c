"""How alike two catalog series are, from the catalog's own fields.

Genres (Jaccard), demographic, tone and themes (cosine of the synopses' embeddings, shipped
in data/series_vectors.npz), status. The vectors are optional: without the file (or with one
built from other synopses) the other fields decide alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np

from mangaassist.catalog.store import Series, catalog

VECTOR_MODEL = "multilingual-e5-small-q4"
VECTOR_FILE = "series_vectors.npz"
# Weights of the parts of the score; tuned on offline/.../eval/recommend.jsonl (scripts/eval_recommend.py).
W_GENRES, W_DEMOGRAPHIC, W_THEMES, W_STATUS = 0.5, 0.2, 0.25, 0.05
THEMES_LOW, THEMES_HIGH = 0.84, 0.92
THEMES_CLOSE = 0.89  # about the top tenth of all pairs: "a story of similar tone and themes"


def catalog_fingerprint() -> str:
    """Changes whenever a series or its synopses change: the vector file must be rebuilt then."""
    digest = hashlib.sha256()
    for series in catalog().values():
        digest.update(f"{series.id}\x00{series.synopsis_en}\x00{series.synopsis_ja}\x00".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class SeriesVectors:
    index: dict[str, int]
    vectors: np.ndarray  # unit rows, float32

    def cosine(self, a: str, b: str) -> float | None:
        if a not in self.index or b not in self.index:
            return None
        return float(self.vectors[self.index[a]] @ self.vectors[self.index[b]])


@cache
def series_vectors() -> SeriesVectors | None:
    """The shipped per-series vectors, or None when missing or built from other synopses."""
    try:
        with resources.files("mangaassist.data").joinpath(VECTOR_FILE).open("rb") as handle:
            data = np.load(handle, allow_pickle=False)
            ids, vectors, fingerprint = data["ids"], data["vectors"], str(data["fingerprint"])
    except (FileNotFoundError, KeyError, ValueError, OSError):
        return None
    if fingerprint != catalog_fingerprint():
        return None
    vectors = vectors.astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return SeriesVectors({str(sid): n for n, sid in enumerate(ids)}, vectors)


def shared_genres(a: Series, b: Series) -> list[str]:
    return [g for g in a.genres if g in b.genres]


def jaccard(a: Series, b: Series) -> float:
    union = set(a.genres) | set(b.genres)
    return len(set(a.genres) & set(b.genres)) / len(union) if union else 0.0


def alike(a: Series, b: Series) -> bool:
    """The catalog's own test of "similar": two shared genres, or one and the same demographic."""
    shared = len(shared_genres(a, b))
    return shared >= 2 or (shared >= 1 and a.demographic == b.demographic)


def similarity(a: Series, b: Series) -> float:
    """0..1: how alike b is to a."""
    vectors = series_vectors()
    cosine = vectors.cosine(a.id, b.id) if vectors is not None else None
    score = W_GENRES * jaccard(a, b) + W_DEMOGRAPHIC * (a.demographic == b.demographic)
    score += W_STATUS * (a.status == b.status)
    if cosine is None:
        return score / (1 - W_THEMES)
    return score + W_THEMES * themes_score(cosine)


def themes_score(cosine: float) -> float:
    """e5 synopsis cosines in this catalog: 10th percentile 0.847, median 0.871, 90th 0.892, 99th 0.909 (all
    pairs); the 0.84..0.92 band is stretched to 0..1."""
    return min(max((cosine - THEMES_LOW) / (THEMES_HIGH - THEMES_LOW), 0.0), 1.0)


def themes_alike(a: Series, b: Series) -> float | None:
    vectors = series_vectors()
    return vectors.cosine(a.id, b.id) if vectors is not None else None
