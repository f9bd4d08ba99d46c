"""Benchmark: escalation rate and cost per 1,000 turns over SPEC §3's production traffic mix (not a test).

Runs every turn through the real state machine on the local stack (local model
endpoint: Haiku profile hedges on discussion/comparison/translation) and compares
the Haiku-first cascade with always-Sonnet and always-Haiku, pricing the same
turns' tokens at each model's rates (SPEC §3).

    .venv/bin/python bench/cascade_cost.py [--turns 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import time
import uuid
from collections import Counter
from decimal import Decimal

from mangaassist.adapters import aws
from mangaassist.answer.pricing import cost_usd
from mangaassist.catalog.store import catalog
from mangaassist.turn import Target
from mangaassist_local.stack import start_local_aws
from mangaassist_offline.sample_data import orders

MIX = [("product lookup", 0.25), ("recommendation", 0.20), ("price check", 0.15), ("manga summary", 0.10),
       ("order status", 0.10), ("japanese query", 0.12), ("greeting", 0.08)]


def question(kind: str, rng: random.Random) -> str:
    series = rng.choice(list(catalog().values()))
    volume = rng.randint(1, series.volumes)
    return {
        "product lookup": lambda: rng.choice([f"Do you have {series.title_en} volume {volume}?",
                                               f"Is {series.title_en} vol {volume} in stock?"]),
        "recommendation": lambda: rng.choice([f"Can you recommend something like {series.title_en}?",
                                               f"What should I read if I liked {series.title_en}?"]),
        "price check": lambda: f"How much is {series.title_en} volume {volume}?",
        "manga summary": lambda: f"Can you summarize {series.title_en}?",
        "order status": lambda: f"Where is my order {rng.choice(list(orders()))}?",
        "japanese query": lambda: rng.choice([f"{series.title_ja}の{volume}巻はいくらですか？",
                                               f"{series.title_ja}みたいなおすすめの漫画はありますか？",
                                               f"{series.title_ja}のあらすじを教えて", "返品はできますか？"]),
        "greeting": lambda: rng.choice(["Hello!", "こんにちは", "Hi there, thanks!"]),
    }[kind]()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=1000)
    args = parser.parse_args()
    rng = random.Random(2025)
    kinds = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX], k=args.turns)
    stack = start_local_aws()
    sfn = stack.client("stepfunctions", config=aws.SYNC_CUSTOM_ENDPOINT)
    cascade = sonnet = haiku = Decimal(0)
    escalated, fallbacks, tiers_used, by_kind = 0, 0, Counter(), Counter()
    started = time.perf_counter()
    try:
        for kind in kinds:
            message = question(kind, rng)
            payload = {"request": {"turn_id": uuid.uuid4().hex, "session_id": "bench", "message": message,
                                   "received_at_ms": int(time.time() * 1000)}}
            out = sfn.start_sync_execution(stateMachineArn=stack.state_machine_arn, input=json.dumps(payload))
            meta = json.loads(out["output"])["meta"]
            cascade += Decimal(meta["cost_usd"])
            first = next(t for t in meta["tiers"] if t["target"] != "canned")
            sonnet += cost_usd(Target.SONNET, first["input_tokens"], first["output_tokens"])
            haiku += cost_usd(Target.HAIKU, first["input_tokens"], first["output_tokens"])
            escalated += meta["escalated"]
            by_kind[kind] += meta["escalated"]
            fallbacks += meta["validation"]["decision"] != "accept"
            tiers_used.update("→".join(t["target"] for t in meta["tiers"]) for _ in [0])
    finally:
        stack.stop()
    n = args.turns
    per_k = Decimal(1000) / n
    print(f"MangaAssist cascade over SPEC §3's production mix: {n} turns in {time.perf_counter() - started:.1f} s")
    print(f"escalation rate      {escalated / n:6.1%}   (SLA target < 15%)")
    print(f"fallback answers     {fallbacks / n:6.1%}")
    print(f"cost / 1,000 turns   cascade ${cascade * per_k:.4f}   always-Sonnet ${sonnet * per_k:.4f}   "
          f"always-Haiku ${haiku * per_k:.4f}")
    print(f"cascade vs Sonnet    {cascade / sonnet:6.1%}   (theory: 1/12 + escalation rate = "
          f"{1 / 12 + escalated / n:.1%})")
    print("tier paths           " + ", ".join(f"{path} {count / n:.1%}" for path, count in tiers_used.most_common()))
    print("escalations by kind  " + ", ".join(f"{k} {by_kind[k]}/{kinds.count(k)}" for k, _ in MIX))


if __name__ == "__main__":
    main()
