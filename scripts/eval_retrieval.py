"""Retrieval quality on the labelled retrieval set: recall@5 and MRR (not a test).

Scores the three modes of the embedded vector index (hybrid BM25 + k-NN, vector only,
BM25 only), what Retrieve returns (hybrid with named series first), and the keyword
fallback Retrieve uses without embeddings, per language. Note the labelled retrieval
queries are not in the classifier's training set.

    .venv/bin/python scripts/eval_retrieval.py
"""

from __future__ import annotations

import json
from collections import defaultdict
from importlib import resources
from pathlib import Path

from mangaassist.text import extract_entities
from mangaassist.turn import QueryEmbedding
from mangaassist.understand.retrieve import keyword_search, semantic_search, store_question
from mangaassist.understand.task_model import TaskModel
from mangaassist_local import local_embeddings
from mangaassist_local.stack import LOCAL_PARAMETERS, ensure_store_index, ensure_task_model
from mangaassist_local.understand import embedding_model_id
from mangaassist_offline.embedded_store import EmbeddedVectorStore

K = 5


def main() -> None:
    text = resources.files("mangaassist_offline.data").joinpath("eval/retrieval.jsonl").read_text("utf-8")
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    store = EmbeddedVectorStore(Path(ensure_store_index(LOCAL_PARAMETERS["EmbeddingPassagePrefix"])))
    prefix = LOCAL_PARAMETERS["EmbeddingQueryPrefix"]
    model = TaskModel.load(ensure_task_model(embedding_model_id(), prefix))
    results: dict[str, dict[str, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        vector = local_embeddings.embed(prefix + row["query"])
        relevant = set(row["relevant"])
        ranked = {mode: [hit.id for hit in store.search(row["query"], vector, k=K, mode=mode)]
                  for mode in ("hybrid", "vector", "keyword")}
        entities = extract_entities(row["query"])
        # What Retrieve returns: hybrid search, policies only for store questions, named series first.
        embedding = QueryEmbedding(model_id=model.embedding_model_id, vector=vector)
        kinds = ["policy"] if store_question(row["query"], entities, embedding, model) else None
        ranked["retrieve"] = [f"{ref.kind}:{ref.id}"
                              for ref in semantic_search(row["query"], entities, vector, store, kinds=kinds)]
        ranked["fallback"] = [f"{ref.kind}:{ref.id}" for ref in keyword_search(row["query"], entities, k=K)]
        for mode, ids in ranked.items():
            recall = len(relevant & set(ids)) / len(relevant)
            rr = next((1 / rank for rank, doc_id in enumerate(ids, 1) if doc_id in relevant), 0.0)
            for key in ("all", row["language"]):
                results[mode][key].append((recall, rr))
    print(f"retrieval set: {len(rows)} queries; recall@{K} / MRR")
    for mode, by_key in results.items():
        print(f"{mode:9}" + "".join(
            f"  {key}: {sum(r for r, _ in v) / len(v):.3f} / {sum(m for _, m in v) / len(v):.3f} (n={len(v)})"
            for key, v in sorted(by_key.items(), key=lambda kv: kv[0] != "all")))


if __name__ == "__main__":
    main()
