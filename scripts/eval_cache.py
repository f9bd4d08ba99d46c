"""The answer caches on labelled question pairs, through a running local stack (not a test).

offline/mangaassist_offline/data/eval/cache_pairs.jsonl holds pairs (a, b): paraphrases that may share an answer
and near misses that must not (another volume, title, edition, order id, country, spoiler setting, language...).
For each pair, with the caches emptied, `a` is asked, then `b` on a new connection and session (no history), and
`b`'s meta.cache (miss / exact / semantic) and meta.cache_distance are read. Reported:

- new: the exact cache (versioned key, no history, no customer data) + the semantic cache with the entity guard,
  as the stack runs them (its SEMANTIC_CACHE_MAX_DISTANCE), and a sweep of that threshold over the distances seen;
- old: the exact cache as it was (message + locale), judged on the same answers;
- embedding only: a plain semantic cache (no guard) at the same threshold, from the local embeddings' distances.

Targets: no false hit on a near miss; at least 60% of the paraphrases hit.

    .venv/bin/python scripts/eval_cache.py [--url http://127.0.0.1:8080 --redis-url redis://...] [--json]

Without a running stack at --url it starts one (as `mangaassist chat` does) and uses its Redis. A running stack's
Redis is printed by `mangaassist serve` ("cache"); without --redis-url its caches cannot be emptied between pairs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import urllib.error
import urllib.request
import uuid
from importlib import resources
from typing import Any

import numpy as np

from mangaassist.reply.cache import CACHEABLE_TASKS
from mangaassist.textnorm import normalize

PARAPHRASE_TARGET = 0.60
SWEEP = [0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.10, 0.12, 0.15]


def load_pairs() -> list[dict[str, Any]]:
    text = resources.files("mangaassist_offline.data").joinpath("eval/cache_pairs.jsonl").read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def running(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:  # noqa: S310 - our own local URL
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def ask(ws_url: str, message: str, timeout: float = 30.0) -> dict[str, Any]:
    """One turn on a new connection and a new session: a guest with no history."""
    from websockets.sync.client import connect

    frame = {"action": "sendMessage", "sessionId": f"evalcache-{uuid.uuid4().hex[:12]}", "message": message}
    with connect(ws_url, open_timeout=30) as socket:  # the first handshake may start the authorizer cold
        socket.send(json.dumps(frame, ensure_ascii=False))
        reply: dict[str, Any] = json.loads(socket.recv(timeout=timeout))
        return reply


def flush(redis_url: str) -> None:
    """Empty both answer caches (the semantic index stays; its entries are the deleted hashes)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    for pattern in ("mangaassist:semcache:*", "mangaassist:answer:*"):
        keys = list(client.scan_iter(match=pattern, count=500))
        if keys:
            client.delete(*keys)


def old_key(message: str) -> str:
    """The exact cache's key before this change: the folded message and the locale (none here)."""
    return hashlib.sha256(f"\x1f{normalize(' '.join(message.split()))}".encode()).hexdigest()


def embedding_distance(a: str, b: str) -> float:
    """Cosine distance of the two questions as the stack embeds them (local e5 with its query prefix)."""
    from mangaassist_local import local_embeddings
    from mangaassist_local.stack import LOCAL_PARAMETERS

    prefix = LOCAL_PARAMETERS["EmbeddingQueryPrefix"]
    va, vb = (np.asarray(local_embeddings.embed(prefix + t), dtype=np.float64) for t in (a, b))
    return round(float(1 - va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb))), 4)


def run_pairs(ws_url: str, redis_url: str | None, pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for _ in range(3):  # the first turns load the local models; the semantic cache needs the query embedding
        if "embed" in ask(ws_url, "warm-up: what are your opening hours?").get("meta", {}).get("latency_ms", {}):
            break
    rows = []
    for n, pair in enumerate(pairs, 1):
        for _ in range(3):  # a turn whose EmbedQuery timed out (a loaded machine) has no cache lookup: ask again
            if redis_url:
                flush(redis_url)
            first, second = ask(ws_url, pair["a"]), ask(ws_url, pair["b"])
            a_meta, b_meta = first.get("meta", {}), second.get("meta", {})
            embedded = "embed" in a_meta.get("latency_ms", {}) and "embed" in b_meta.get("latency_ms", {})
            if embedded:
                break
        rows.append({**pair, "a_task": a_meta.get("task"), "b_task": b_meta.get("task"),
                     "a_accepted": a_meta.get("validation", {}).get("decision") == "accept",
                     "a_cache": a_meta.get("cache"), "b_cache": b_meta.get("cache", "error"),
                     "b_distance": b_meta.get("cache_distance"), "embedded": embedded,
                     "same_answer": first.get("text") == second.get("text"),
                     "embedding_distance": embedding_distance(pair["a"], pair["b"])})
        print(f"\r{n}/{len(pairs)} pairs", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows


def figures(rows: list[dict[str, Any]], threshold: float | None) -> dict[str, Any]:
    para = [r for r in rows if r["kind"] == "paraphrase"]
    near = [r for r in rows if r["kind"] == "near_miss"]

    def new_hit(r: dict[str, Any]) -> bool:
        return r["b_cache"] in ("exact", "semantic")

    def old_hit(r: dict[str, Any]) -> bool:  # the exact cache as it was: same folded text, answer cacheable
        return old_key(r["a"]) == old_key(r["b"]) and r["a_accepted"] and r["a_task"] in CACHEABLE_TASKS

    def guarded_hit(r: dict[str, Any], t: float) -> bool:
        return r["b_cache"] == "exact" or (r["b_distance"] is not None and r["b_distance"] <= t)

    def plain_hit(r: dict[str, Any], t: float) -> bool:  # no guard: any cached answer this close
        return r["a_accepted"] and r["embedding_distance"] <= t

    def share(hits: int, total: int) -> float:
        return round(hits / total, 3) if total else 0.0

    def caches(hit: Any) -> dict[str, Any]:
        p = sum(hit(r) for r in para)
        f = [r for r in near if hit(r)]
        return {"paraphrase_hits": p, "paraphrases": len(para), "paraphrase_hit_rate": share(p, len(para)),
                "false_hits": len(f), "near_misses": len(near),
                "false_hits_by_difference": {d: sum(r["differs"] == d for r in f) for d in
                                             sorted({r["differs"] for r in f})}}

    t = threshold if threshold is not None else 0.0
    result: dict[str, Any] = {
        "threshold": threshold,
        "new": caches(new_hit),
        "old_exact_only": caches(old_hit),
        "embedding_only": caches(lambda r: plain_hit(r, t)),
        "sweep": [{"threshold": s, "guarded": caches(lambda r, s=s: guarded_hit(r, s)),
                   "embedding_only": caches(lambda r, s=s: plain_hit(r, s))} for s in SWEEP],
        "missed_paraphrases": [{"a": r["a"], "b": r["b"], "a_task": r["a_task"], "b_task": r["b_task"],
                                "distance": r["b_distance"], "embedding_distance": r["embedding_distance"]}
                               for r in para if not new_hit(r)],
        "false_hits": [{"a": r["a"], "b": r["b"], "differs": r["differs"], "distance": r["b_distance"]}
                       for r in near if new_hit(r)],
    }
    new = result["new"]
    result["pairs_without_embedding"] = sum(not r["embedded"] for r in rows)
    result["targets_met"] = new["false_hits"] == 0 and new["paraphrase_hit_rate"] >= PARAPHRASE_TARGET
    return result


def table(result: dict[str, Any]) -> str:
    lines = [f"threshold (max cosine distance): {result['threshold']}", "",
             f"{'cache':<28}{'paraphrase hits':>18}{'hit rate':>10}{'false hits':>12}"]
    for name, label in (("old_exact_only", "old: exact only"), ("new", "new: exact + guarded semantic"),
                        ("embedding_only", "embedding only (no guard)")):
        c = result[name]
        lines.append(f"{label:<28}{c['paraphrase_hits']:>9}/{c['paraphrases']:<8}{c['paraphrase_hit_rate']:>10.0%}"
                     f"{c['false_hits']:>7}/{c['near_misses']:<4}")
    lines += ["", "threshold sweep (guarded = what the stack would serve; embedding only = no guard)",
              f"{'max distance':>12}{'guarded hit rate':>18}{'guarded false':>15}{'plain hit rate':>16}"
              f"{'plain false':>13}"]
    for row in result["sweep"]:
        g, p = row["guarded"], row["embedding_only"]
        lines.append(f"{row['threshold']:>12.2f}{g['paraphrase_hit_rate']:>18.0%}{g['false_hits']:>15}"
                     f"{p['paraphrase_hit_rate']:>16.0%}{p['false_hits']:>13}")
    if result["missed_paraphrases"]:
        lines += ["", "paraphrases that missed (task a/b, distance under the guard, raw embedding distance):"]
        lines += [f"  {m['a']!r} / {m['b']!r}: {m['a_task']}/{m['b_task']}, {m['distance']}, "
                  f"{m['embedding_distance']}" for m in result["missed_paraphrases"]]
    if result["false_hits"]:
        lines += ["", "FALSE HITS:"] + [f"  {f['a']!r} / {f['b']!r} ({f['differs']})" for f in result["false_hits"]]
    if result["pairs_without_embedding"]:
        lines += ["", f"{result['pairs_without_embedding']} pairs ran without the query embedding (EmbedQuery "
                      "timed out 3 times): no semantic lookup for them"]
    new = result["new"]
    lines += ["", f"targets (no false hit, >= {PARAPHRASE_TARGET:.0%} of paraphrases hit): "
                  f"{'met' if result['targets_met'] else 'NOT met'} "
                  f"({new['false_hits']} false hits, {new['paraphrase_hit_rate']:.0%} of paraphrases)"]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080", help="a running stack's gateway")
    parser.add_argument("--redis-url", default=None, help="that stack's Redis, to empty the caches between pairs")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    # In-process handlers log to stdout: keep stdout for the figures (fd 1 goes to stderr while the stack runs).
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    pairs = load_pairs()
    stack = None
    if running(args.url):
        ws_url, redis_url = args.url.replace("http://", "ws://").replace("https://", "wss://") + "/ws", args.redis_url
        if not redis_url:
            print("warning: no --redis-url: caches are not emptied between pairs", file=sys.stderr)
        threshold_env = None
    else:
        from mangaassist_local.runner import start_stack

        print("(no stack running: starting an ephemeral one)", file=sys.stderr)
        stack = start_stack()
        ws_url, redis_url = stack.gateway.ws_url, stack.redis.url or None
        threshold_env = stack.aws.env.get("SEMANTIC_CACHE_MAX_DISTANCE")
        if not stack.aws.env.get("SEMANTIC_CACHE_URL"):
            print(f"warning: the semantic cache is off ({stack.redis.describe()})", file=sys.stderr)
    try:
        rows = run_pairs(ws_url, redis_url, pairs)
    finally:
        if stack is not None:
            stack.stop()
    from mangaassist_local.redis_local import LOCAL_SEMANTIC_MAX_DISTANCE

    result = figures(rows, float(threshold_env or LOCAL_SEMANTIC_MAX_DISTANCE))
    result["pairs"] = rows
    sys.stdout.flush()
    print(json.dumps(result, ensure_ascii=False, indent=2) if args.json else table(result), file=out, flush=True)
    return 0 if result["targets_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
