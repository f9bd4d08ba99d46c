"""Recommendation quality on offline/.../eval/recommend.jsonl, judged only by the catalog's metadata (#11).

A request passes when no excluded series (named, read, or already suggested) is a pick, there are at
least 2 picks, and at least 2/3 of the (other) picks are similar: they share >= 2 genres, or >= 1 genre and the
demographic, with a series asked about, and/or meet the attributes asked for. The picks are the first
three series the model is given to recommend (what the local model presents).

OLD is Retrieve's search path as before #11 (hybrid BM25 + k-NN in the embedded index, named series
first; Retrieve.search answers non-recommendation questions the same way today). NEW is Retrieve.

    .venv/bin/python scripts/eval_recommend.py            # both, a table
    .venv/bin/python scripts/eval_recommend.py --only old --json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from importlib import resources
from pathlib import Path
from typing import Any

from mangaassist.catalog.similarity import alike
from mangaassist.catalog.store import Series, catalog
from mangaassist.text import extract_entities
from mangaassist.turn import HistoryItem, QueryEmbedding, SourceRef
from mangaassist.understand.retrieve import retrieve, search
from mangaassist.understand.task_model import TaskModel
from mangaassist_local import local_embeddings
from mangaassist_local.stack import LOCAL_PARAMETERS, ensure_store_index, ensure_task_model
from mangaassist_local.understand import embedding_model_id
from mangaassist_offline.embedded_store import EmbeddedVectorStore

PICKS = 3
TARGET_PASS, TARGET_SHARE = 0.90, 0.80


class NoLookups:
    """These requests name no order or volume: the exact lookups have nothing to find."""

    def product(self, series_id: str, volume: int) -> dict[str, Any] | None:
        return None

    def order(self, order_id: str) -> dict[str, Any] | None:
        return None


def load_rows() -> list[dict[str, Any]]:
    text = resources.files("mangaassist_offline.data").joinpath("eval/recommend.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def meets(series: Series, attributes: dict[str, Any]) -> bool:
    genres = set(series.genres)
    return (set(attributes.get("genres_all", [])) <= genres
            and (not attributes.get("genres_any") or bool(set(attributes["genres_any"]) & genres))
            and (not attributes.get("demographics") or series.demographic in attributes["demographics"])
            and not set(attributes.get("avoid", [])) & genres
            and (not attributes.get("status") or series.status == attributes["status"])
            and series.volumes <= attributes.get("max_volumes", 10_000))


def similar(series: Series, row: dict[str, Any]) -> bool:
    ok = True
    if row["seeds"]:
        ok = any(alike(catalog()[seed], series) for seed in row["seeds"])
    if row.get("attributes"):
        ok = ok and meets(series, row["attributes"])
    return ok


def judge(picks: list[str], row: dict[str, Any]) -> dict[str, Any]:
    excluded = [sid for sid in picks if sid in set(row["excluded"])]
    # The share is over the other picks (as in the issue): the series asked about is trivially like itself.
    others = [catalog()[sid] for sid in picks if sid in catalog() and sid not in excluded]
    share = sum(similar(s, row) for s in others) / len(others) if others else 0.0
    passed = not excluded and len(others) >= 2 and share >= 2 / 3 - 1e-9
    return {"picks": picks, "share": round(share, 3), "excluded_picked": excluded, "pass": passed}


def old_picks(row: dict[str, Any], embedding: QueryEmbedding, store: EmbeddedVectorStore,
              model: TaskModel) -> list[str]:
    refs = search(row["query"], extract_entities(row["query"]), embedding, store, model)
    return [ref.id for ref in refs if ref.kind == "series"][:PICKS]


def new_picks(row: dict[str, Any], embedding: QueryEmbedding, store: EmbeddedVectorStore,
              model: TaskModel) -> list[str]:
    history = [HistoryItem(**item) for item in row.get("history", [])]
    refs: list[SourceRef] = retrieve(row["query"], NoLookups(), embedding, store, model, history=history,
                                     locale=row["language"]).sources
    picks = [ref.id for ref in refs if ref.kind == "series" and ref.facts.get("role") == "pick"]
    if not picks:  # not taken as a recommendation: what the model would be given instead
        picks = [ref.id for ref in refs if ref.kind == "series" and "role" not in ref.facts]
    return picks[:PICKS]


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        for key in ("all", r["language"], r["kind"]):
            groups[key].append(r)
    return {key: {"n": len(rs), "pass_rate": round(sum(r["pass"] for r in rs) / len(rs), 3),
                  "mean_share": round(sum(r["share"] for r in rs) / len(rs), 3),
                  "asked_about_picked": sum(bool(r["excluded_picked"]) for r in rs)}
            for key, rs in groups.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", choices=["old", "new"], help="run one Retrieve only")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--failures", action="store_true", help="list the requests that fail")
    args = parser.parse_args(argv)
    rows = load_rows()
    store = EmbeddedVectorStore(Path(ensure_store_index(LOCAL_PARAMETERS["EmbeddingPassagePrefix"])))
    prefix = LOCAL_PARAMETERS["EmbeddingQueryPrefix"]
    model = TaskModel.load(ensure_task_model(embedding_model_id(), prefix))
    runs = {"old": old_picks, "new": new_picks}
    if args.only:
        runs = {args.only: runs[args.only]}
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
    for n, row in enumerate(rows, 1):
        embedding = QueryEmbedding(model_id=model.embedding_model_id,
                                   vector=local_embeddings.embed(prefix + row["query"]))
        for name, picks_of in runs.items():
            verdict = judge(picks_of(row, embedding, store, model), row)
            results[name].append({"query": row["query"], "language": row["language"], "kind": row["kind"], **verdict})
        if not args.json:
            print(f"\r{n}/{len(rows)} requests", end="", file=sys.stderr, flush=True)
    if not args.json:
        print(file=sys.stderr)
    summary = {name: summarize(rs) for name, rs in results.items()}
    met = {name: s["all"]["pass_rate"] >= TARGET_PASS and s["all"]["mean_share"] >= TARGET_SHARE
           for name, s in summary.items()}
    if args.json:
        print(json.dumps({"requests": len(rows), "targets": {"pass_rate": TARGET_PASS, "mean_share": TARGET_SHARE},
                          "summary": summary, "targets_met": met,
                          "failures": {name: [r for r in rs if not r["pass"]] for name, rs in results.items()}},
                         ensure_ascii=False, indent=2))
        return 0
    print(f"recommendation set: {len(rows)} requests; picks = first {PICKS} series given to the model")
    print(f"{'retrieve':8} {'slice':14} {'n':>4} {'pass':>6} {'share':>6} {'asked/read picked':>18}")
    for name, by_key in summary.items():
        for key, s in sorted(by_key.items(), key=lambda kv: (kv[0] != "all", kv[0])):
            print(f"{name:8} {key:14} {s['n']:>4} {s['pass_rate']:>6.1%} {s['mean_share']:>6.3f} "
                  f"{s['asked_about_picked']:>18}")
    for name, ok in met.items():
        print(f"{name}: targets (pass >= {TARGET_PASS:.0%}, share >= {TARGET_SHARE}) {'MET' if ok else 'NOT met'}")
    if args.failures:
        for name, rs in results.items():
            for r in rs:
                if not r["pass"]:
                    print(f"  {name} FAIL {r['query']!r}: {r['picks']} share={r['share']} "
                          f"excluded={r['excluded_picked']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
