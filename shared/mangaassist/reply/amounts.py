"""Money and offer statements in a text, each with what it is stated for.

The same reader runs on an answer and on its sources, so a price is supported only by the price the sources state
for the same title (a multiple only where the sentence states a quantity), a store-policy amount only by an amount a
policy states, another currency only by a source stating it, and "free" or a discount only by a source saying so.
Texts are read folded (textnorm.normalize: NFKC, lower case).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from mangaassist.text import find_titles

_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_KANJI = "〇零一二三四五六七八九十百千万"
_INT = r"\d{1,3}(?:,\d{3})+|\d+"
_JPY = re.compile(
    rf"(?:¥|jpy\s*|yen\s*)\s*({_INT})(?![\d.])"
    rf"|({_INT})\s*(?:円|yen\b|jpy\b)"
    rf"|((?:\d|[{_KANJI}])*[{_KANJI}](?:\d|[{_KANJI}])*)\s*円"  # 百円, 千五百円, 1万5千円
)
_CURRENCIES = {"us$": "USD", "$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "ドル": "USD",
               "€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "ユーロ": "EUR",
               "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP", "ポンド": "GBP",
               "₩": "KRW", "krw": "KRW", "won": "KRW", "ウォン": "KRW",
               "cny": "CNY", "rmb": "CNY", "yuan": "CNY", "元": "CNY", "人民元": "CNY"}
_DECIMAL = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_FOREIGN = re.compile(
    rf"(us\$|\$|€|£|₩|\b(?:usd|eur|gbp|krw|cny|rmb))\s*({_DECIMAL})"
    rf"|({_DECIMAL})\s*(usd|eur|gbp|krw|cny|rmb|dollars?|euros?|pounds?|won|yuan|ドル|ユーロ|ポンド|ウォン|人民元|元)"
    r"(?![a-z])"
)
_FREE = re.compile(r"free of charge|for free|\bfree (?:shipping|delivery|gift|cop(?:y|ies)|volumes?|books?|manga|"
                   r"wrapping|message card|bonus)|\b(?:is|are|be|it's|totally|completely|entirely|always) free\b|"
                   r"no charge|at no (?:extra )?cost|complimentary|costs? nothing|無料|タダ|ただで")
_FREE_IN_SOURCE = re.compile(r"\bfree\b|無料|no charge|complimentary")
_PERCENT_OFF = re.compile(r"(\d{1,3})\s*%\s*(?:off|discount|引き|オフ|割引|値引)|"
                          r"(?:discount|save|割引|値引き?)\s*(?:of\s*)?(\d{1,3})\s*%|"
                          r"(\d)\s*割\s*(?:引|オフ|off)")
_HALF_OFF = re.compile(r"半額|half[- ]price|half off|50\s*%\s*off")
_DISCOUNT = re.compile(r"\bdiscount(?:s|ed)?\b|\bon sale\b|\bsale price\b|セール|割引|値引|\bcoupon|クーポン|"
                       r"buy one,? get one|\bbogo\b")
# Words that make an amount a store-policy amount (shipping, fees, points) rather than a title's price.
_POLICY_CUE = re.compile(r"shipping|ship\b|ships\b|deliver|postage|\bfees?\b|cash on delivery|\bcod\b|wrap|"
                         r"\bpoints?\b|threshold|orders? (?:of|over|above|totall?ing)|or more|\bems\b|epacket|"
                         r"customs|送料|配送|発送|手数料|ラッピング|包装|ポイント|代引|代金引換|以上|ご注文")
_WORD_NUMBERS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
                 "ten": 10, "eleven": 11, "twelve": 12, "both": 2, "a pair of": 2}
_QUANTITY = re.compile(
    r"(\d+|" + "|".join(_WORD_NUMBERS) + r")\s*(?:volumes?|vols?\b|books?|cop(?:y|ies)|items?|sets?)"
    rf"|(\d+|[{_KANJI}]+)\s*(?:冊|点|巻分|巻セット)|全\s*(\d+)\s*巻|[x×]\s*(\d+)\b|\b(\d+)\s*[x×](?![\d])"
)
_RANGE = re.compile(r"(?:volumes?|vols?\.?)\s*(\d+)\s*(?:-|–|~|〜|to|through)\s*(\d+)"
                    r"|第?(\d+)\s*巻?\s*(?:-|–|~|〜|から)\s*第?(\d+)\s*巻")
# Sentences end at 。!? or at ". " (not after "vol." / "no."); clauses at commas (not 1,584), 、 ; and "and".
_SENTENCE = re.compile(r"(?<!vol)(?<!vols)(?<!\bno)(?<!\bv)[.!?](?:\s+|$)|[。！？!?\n]+")
_CLAUSE = re.compile(r",(?!\d{3})|，|、|;|；|\s(?:and|but|while|whereas|plus)\s")


def kanji_number(text: str) -> int:
    """千五百 -> 1500, 1万5千 -> 15000, 五二八 -> 528 (digits may be Arabic or kanji)."""
    total = section = 0
    number: int | None = None
    for ch in text.replace(",", ""):
        if ch.isdigit():
            number = (number or 0) * 10 + int(ch)
        elif ch in _KANJI_DIGITS:
            number = (number or 0) * 10 + _KANJI_DIGITS[ch]
        elif ch in _KANJI_UNITS:
            section += (1 if number is None else number) * _KANJI_UNITS[ch]
            number = None
        elif ch == "万":
            total += (section + (number or 0) or 1) * 10_000
            section, number = 0, None
    return total + section + (number or 0)


@dataclass(frozen=True)
class Amount:
    """One amount: `claim` names it ("price:528", "price:USD:4.99"); `value` compares it."""

    claim: str
    currency: str
    value: float
    titles: frozenset[str]  # series ids it is stated for (its clause's, else its sentence's)
    policy: bool  # a store-policy amount (shipping, fees, points...)
    quantities: frozenset[int]  # quantities its sentence states ("3 volumes"): allowed multiples
    doc_titles: frozenset[str] = frozenset()  # the titles its whole document names (sources only)


@dataclass(frozen=True)
class Offers:
    percents: frozenset[int]  # "90% off" -> 90, 半額 -> 50
    discount: bool  # any discount, sale or coupon wording


def _quantities(sentence: str) -> frozenset[int]:
    found = {1}
    for match in _QUANTITY.finditer(sentence):
        raw = next(g for g in match.groups() if g)
        found.add(_WORD_NUMBERS.get(raw) or (int(raw) if raw.isdigit() else kanji_number(raw)))
    for match in _RANGE.finditer(sentence):
        low, high = (int(g) for g in match.groups() if g)
        if 0 < low <= high:
            found.add(high - low + 1)
    return frozenset(q for q in found if 0 < q <= 1000)


_OPEN, _CLOSE = "(（『「【〈《[", ")）』」】〉》]"


def _split(text: str, separator: re.Pattern[str]) -> list[str]:
    """Split at separators outside brackets: 『バクマン。』 and (古見さんは、コミュ症です。) stay whole."""
    depth, depths = 0, []
    for ch in text:
        depths.append(depth)
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE and depth:
            depth -= 1
    parts, start = [], 0
    for match in separator.finditer(text):
        if depths[match.start()] == 0:
            parts.append(text[start : match.start()])
            start = match.end()
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


@lru_cache(maxsize=4096)  # source texts repeat across turns (catalog records, policies)
def amounts(folded: str, doc_titles: frozenset[str] = frozenset(), *, source: bool = False) -> tuple[Amount, ...]:
    """Every money amount in a folded text ("free" is ¥0), with the titles and quantities it is stated with;
    `doc_titles`: the titles the whole document names (a series' record naming a price in its synopsis). In a
    source, "free" counts in any wording."""
    free = _FREE_IN_SOURCE if source else _FREE
    found: list[Amount] = []
    for sentence in _split(folded, _SENTENCE):
        if not (_JPY.search(sentence) or _FOREIGN.search(sentence) or free.search(sentence)):
            continue  # titles are looked up only where an amount is stated
        sentence_titles = frozenset(find_titles(sentence))
        quantities = _quantities(sentence)
        for clause in _split(sentence, _CLAUSE):
            jpy, foreign, is_free = list(_JPY.finditer(clause)), list(_FOREIGN.finditer(clause)), free.search(clause)
            if not (jpy or foreign or is_free):
                continue
            policy = bool(_POLICY_CUE.search(clause))
            titles = frozenset(find_titles(clause)) or (frozenset() if policy else sentence_titles)
            if is_free:
                found.append(Amount("free", "JPY", 0, titles, policy, quantities, doc_titles))
            for match in jpy:
                arabic = match.group(1) or match.group(2)
                value = int(arabic.replace(",", "")) if arabic else kanji_number(match.group(3))
                found.append(Amount(f"price:{value}", "JPY", value, titles, policy, quantities, doc_titles))
            for match in foreign:
                unit = (match.group(1) or match.group(4)).strip()
                number = (match.group(2) or match.group(3)).replace(",", "")
                currency = _CURRENCIES.get(unit, unit.upper())
                found.append(Amount(f"price:{currency}:{number}", currency, float(number), titles, policy,
                                    quantities, doc_titles))
    return tuple(found)


def offers(folded: str) -> Offers:
    """What a text says about discounts."""
    percents = {int(next(g for g in m.groups() if g)) * (10 if m.group(3) else 1)
                for m in _PERCENT_OFF.finditer(folded)}
    if _HALF_OFF.search(folded):
        percents.add(50)
    return Offers(percents=frozenset(percents),
                  discount=bool(percents or _DISCOUNT.search(folded)))


def supported(amount: Amount, sources: list[Amount]) -> bool:
    """Whether the sources state this amount for what the answer states it for."""
    same = [s for s in sources if s.currency == amount.currency]
    titled = [s for s in same if s.titles]
    general = [s.value for s in same if not s.titles]
    multiples = amount.quantities

    def priced(candidates: list[Amount]) -> bool:
        return any(amount.value == s.value * q for s in candidates for q in multiples)

    if amount.titles:  # stated for a title: that title's price (or, beside a policy word, a policy amount)
        return (priced([s for s in titled if s.titles & amount.titles])
                or any(s.value == amount.value for s in same if not s.titles and s.doc_titles & amount.titles)
                or (amount.policy and amount.value in general))
    if amount.policy:  # shipping, fees, points: only an amount a policy states
        return amount.value in general
    return priced(titled) or amount.value in general
