"""Benchmark: the understanding steps on the local stack (not a test).

Prints p50/p95 of EmbedQuery, Classify and Retrieve per turn (from each turn's
meta, i.e. inside the handlers), the understanding total (embed + the slower of the
parallel Classify and Retrieve), and the time to build the catalog's vector index
from scratch with the local embeddings model.

    .venv/bin/python bench/understand.py [--turns 200]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from pathlib import Path

from mangaassist.adapters import aws
from mangaassist_local import local_embeddings
from mangaassist_local.stack import LOCAL_PARAMETERS, start_local_aws
from mangaassist_offline.documents import store_documents
from mangaassist_offline.embedded_store import EmbeddedVectorStore

QUESTIONS = [
    "How much is One Piece volume 5?", "進撃の巨人みたいなおすすめの漫画はありますか？", "What's your return policy?",
    "Can you summarize Monster?", "フリーレンのテーマって何だと思う？", "Where is my order MGA-2025-00417?",
    "kimetsu no yaiba vol 3 in stock?", "送料はいくらですか", "Hello!", "a cooking manga in a dungeon?",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    docs = store_documents()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        prefix = LOCAL_PARAMETERS["EmbeddingPassagePrefix"]
        EmbeddedVectorStore(Path(scratch)).upsert(docs, [local_embeddings.embed(prefix + d.text) for d in docs])
    build_s = time.perf_counter() - started
    stack = start_local_aws()
    sfn = stack.client("stepfunctions", config=aws.SYNC_CUSTOM_ENDPOINT)
    stages: dict[str, list[float]] = {"embed": [], "classify": [], "retrieve": [], "understanding": []}
    try:
        for n in range(args.turns):
            payload = {"request": {"turn_id": uuid.uuid4().hex, "session_id": "bench",
                                   "message": f"{QUESTIONS[n % len(QUESTIONS)]} ({n})",
                                   "received_at_ms": int(time.time() * 1000)}}
            out = sfn.start_sync_execution(stateMachineArn=stack.state_machine_arn, input=json.dumps(payload))
            latency = json.loads(out["output"])["meta"]["latency_ms"]
            for name in ("embed", "classify", "retrieve"):
                stages[name].append(latency[name])
            stages["understanding"].append(latency["embed"] + max(latency["classify"], latency["retrieve"]))
    finally:
        stack.stop()
    print(f"understanding on the local stack, ms ({args.turns} turns; {len(docs)} documents indexed)")
    for name, values in stages.items():
        print(f"  {name:<14} p50 {pct(values, .5):6.1f}   p95 {pct(values, .95):6.1f}")
    print(f"index build from scratch: {build_s:.1f} s for {len(docs)} documents "
          f"({build_s / len(docs) * 1000:.0f} ms each, one core)")


if __name__ == "__main__":
    main()
