"""Task accuracy per task and per language on the labelled dev split (not a test).

Trains the learned classifier on the train split with the local embeddings model
(multilingual-e5-small, as the local stack does), then scores rules only, the
learned model only, and the combination Classify uses.

    .venv/bin/python scripts/eval_classifier.py
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from mangaassist.turn import QueryEmbedding
from mangaassist.understand.classify import classify, features
from mangaassist_local.local_embeddings import embed
from mangaassist_offline.training import fit, labelled

MODEL_ID = "amazon.titan-embed-text-v2:0"  # the id the local stack's embeddings answer for


def main() -> None:
    train, dev = labelled("train"), labelled("dev")
    vectors = {row["text"]: embed("query: " + row["text"]) for row in train + dev}
    matrix = np.array([features(r["text"], vectors[r["text"]]) for r in train], dtype=np.float32)
    model = fit(matrix, [r["task"] for r in train], MODEL_ID, dimensions=len(vectors[train[0]["text"]]))
    hits: dict[str, Counter[str]] = {"rules": Counter(), "learned": Counter(), "combined": Counter()}
    totals: Counter[str] = Counter()
    confusion: Counter[tuple[str, str]] = Counter()
    for row in dev:
        embedding = QueryEmbedding(model_id=MODEL_ID, vector=vectors[row["text"]])
        guesses = {"rules": classify(row["text"]).task.value,
                   "learned": model.predict(features(row["text"], embedding.vector))[0].value,
                   "combined": classify(row["text"], embedding, model).task.value}
        keys = ("all", f"lang:{row['language']}", f"task:{row['task']}")
        totals.update(keys)
        for name, guess in guesses.items():
            if guess == row["task"]:
                hits[name].update(keys)
        if guesses["combined"] != row["task"]:
            confusion[(row["task"], guesses["combined"])] += 1
    print(f"dev split: {len(dev)} questions (train: {len(train)})")
    print(f"{'':22}{'rules':>8}{'learned':>9}{'combined':>10}")
    for key in sorted(totals, key=lambda k: (k != "all", k)):
        print(f"{key:22}" + "".join(f"{hits[name][key] / totals[key]:>{w}.3f}"
                                     for name, w in (("rules", 8), ("learned", 9), ("combined", 10)))
              + f"   n={totals[key]}")
    print("most frequent confusions (expected -> got): "
          + ", ".join(f"{a}->{b} {n}" for (a, b), n in confusion.most_common(8)))


if __name__ == "__main__":
    main()
