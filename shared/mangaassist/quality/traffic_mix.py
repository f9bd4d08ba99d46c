"""The load tester's messages: SPEC §3's production traffic mix, in English and Japanese, over the real catalog.

Each kind draws from templates × catalog titles (× volumes, × order ids, × names), without repeating a message
within a run where the space allows, so the answer cache does not serve a turn the model should answer.
Order ids are given by the caller (the sample orders live with the offline data, not in the layer).
No number is ever added to make a message unique: "#12" would be read as a volume.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from mangaassist.catalog.store import Series

# SPEC §3: the production traffic mix for load tests.
PRODUCTION_MIX: dict[str, float] = {"product_lookup": 0.25, "recommendation": 0.20, "price_check": 0.15,
                                    "manga_summary": 0.10, "order_status": 0.10, "japanese_query": 0.12,
                                    "greeting": 0.08}
# The other patterns' default: the cheap single-tier lookups, so the arrival shape is what varies.
LOOKUP_MIX: dict[str, float] = {"product_lookup": 0.5, "price_check": 0.5}
MIXES = {"mix": PRODUCTION_MIX, "lookup": LOOKUP_MIX}

_EN = {
    "product_lookup": ["Do you have {title} volume {volume} in stock?", "Is {title} vol. {volume} available?",
                       "Can I buy {title} volume {volume} from you?", "Is volume {volume} of {title} in stock?"],
    "price_check": ["How much is {title} volume {volume}?", "What's the price of {title} vol. {volume}?",
                    "How much does volume {volume} of {title} cost?"],
    "recommendation": ["Can you recommend manga like {title}?", "I loved {title}. What should I read next?",
                       "Any recommendations similar to {title}?", "What would you suggest for a fan of {title}?"],
    "manga_summary": ["What is {title} about?", "Give me a short summary of {title}.",
                      "Summarize {title} without spoilers, please.", "What are the themes of {title}?"],
    "order_status": ["Where is my order {order}?", "What's the status of order {order}?",
                     "Has my order {order} shipped yet?", "When will order {order} arrive?",
                     "Can you track order {order} for me?", "Is my order {order} on its way?",
                     "Has order {order} been delivered?", "I'd like an update on order {order}."],
}
_JA = ["{title_ja}の{volume}巻はいくらですか？", "{title_ja}の{volume}巻の在庫はありますか？",
       "{title_ja}みたいなおすすめの漫画はありますか？", "{title_ja}のあらすじを教えてください。",
       "注文{order}の配送状況を教えてください。"]
_PREFIXES = ["", "Hi, ", "Hello! ", "Quick question: ", "Excuse me, ", "Good evening! "]
_GREETINGS_EN = ["Hello", "Hi", "Hi there", "Good morning", "Good evening", "Hey"]
_GREETINGS_JA = ["こんにちは", "こんばんは", "おはようございます", "はじめまして"]
_NAMES = ["Yuki", "Haruto", "Sakura", "Ren", "Aoi", "Sota", "Hina", "Riku", "Mei", "Kaito", "Emma", "Liam", "Noah",
          "Olivia", "Mia", "Lucas", "Sofia", "Leo", "Chloe", "Ethan", "Nana", "Daiki", "Mio", "Taro", "Hana"]
_NAMES_JA = ["ゆき", "はると", "さくら", "れん", "あおい", "そうた", "ひな", "りく", "めい", "かいと", "なな", "だいき"]
_GREETING_ENDS_EN = ["!", ", nice to meet you!", ", how are you today?", ". Thanks for your help!"]
_GREETING_ENDS_JA = ["です。", "です。よろしくお願いします。", "と申します。"]


@dataclass(frozen=True)
class LoadMessage:
    kind: str
    text: str
    language: str  # "en" or "ja"


class MessageMaker:
    """Seeded draws from a mix; `repeats` counts the messages that had to repeat an earlier one."""

    def __init__(self, series: Sequence[Series], order_ids: Sequence[str], seed: int,
                 mix: dict[str, float] | None = None, unique: bool = True, pool: int = 20) -> None:
        self.mix = dict(mix or PRODUCTION_MIX)
        unknown = set(self.mix) - set(PRODUCTION_MIX)
        if unknown:
            raise ValueError(f"unknown message kinds {sorted(unknown)}; kinds: {', '.join(PRODUCTION_MIX)}")
        self.series = [s for s in series if s.stock]
        if not self.series:
            raise ValueError("the catalog is empty")
        self.order_ids = list(order_ids)
        if not self.order_ids and any(k in self.mix for k in ("order_status", "japanese_query")):
            raise ValueError("order_status and japanese_query messages need sample order ids")
        self._rng = random.Random(seed)
        self._seen: set[str] = set()
        self.repeats = 0
        # unique=False: each kind repeats a small pool, as real traffic repeats greetings and FAQs (cache hits).
        self._pools: dict[str, list[LoadMessage]] | None = None if unique else {
            kind: [self._one(kind) for _ in range(pool)] for kind in self.mix}

    def draw(self, count: int) -> list[LoadMessage]:
        return self.of_kinds(self._rng.choices(list(self.mix), weights=list(self.mix.values()), k=count))

    def of_kinds(self, kinds: Sequence[str]) -> list[LoadMessage]:
        """One message of each kind given, in order (e.g. to offer another client's sequence of kinds again)."""
        if unknown := set(kinds) - set(self.mix):
            raise ValueError(f"unknown message kinds {sorted(unknown)}; kinds: {', '.join(self.mix)}")
        if self._pools is not None:
            return [self._rng.choice(self._pools[kind]) for kind in kinds]
        return [self._unique(kind) for kind in kinds]

    def _unique(self, kind: str) -> LoadMessage:
        for _ in range(50):
            message = self._one(kind)
            if message.text not in self._seen:
                break
        else:
            self.repeats += 1
        self._seen.add(message.text)
        return message

    def _one(self, kind: str) -> LoadMessage:
        rng = self._rng
        series = rng.choice(self.series)
        japanese = [series.title_ja, *(a for a in series.aliases if any("\u3040" <= c <= "\u9fff" for c in a))]
        fields = {"title": series.title_en, "title_ja": rng.choice(japanese),
                  "volume": rng.randint(1, len(series.stock)),
                  "order": rng.choice(self.order_ids) if self.order_ids else ""}
        if kind == "greeting":
            if rng.random() < 0.5:
                text = f"{rng.choice(_GREETINGS_EN)}, I'm {rng.choice(_NAMES)}{rng.choice(_GREETING_ENDS_EN)}"
                return LoadMessage(kind, text, "en")
            text = f"{rng.choice(_GREETINGS_JA)}、{rng.choice(_NAMES_JA)}{rng.choice(_GREETING_ENDS_JA)}"
            return LoadMessage(kind, text, "ja")
        if kind == "japanese_query":
            return LoadMessage(kind, rng.choice(_JA).format(**fields), "ja")
        text = rng.choice(_EN[kind]).format(**fields)
        prefix = rng.choice(_PREFIXES)
        if prefix.endswith((", ", ": ")) and text[1] != " ":  # "Hi, how much..." but "Hi, I loved..."
            text = text[0].lower() + text[1:]
        return LoadMessage(kind, prefix + text, "en")
