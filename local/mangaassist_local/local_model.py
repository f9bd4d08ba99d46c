"""The local stand-in for Claude and the SageMaker model: deterministic, grounded answers.

It reads what the real models would get (the system prompt with the task, the
reply language and the <context> block) and composes an answer from the sources
named there, using the bundled store data for their text in either language.
Each tier has a profile so the cascade is visible locally: the Haiku profile
hedges on discussion, comparison and translation (so those escalate); Sonnet and
the SageMaker profile answer them plainly.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from mangaassist.catalog.store import Series, catalog, policies
from mangaassist.text import find_titles
from mangaassist_offline.sample_data import orders

_TASK = re.compile(r"Task: (\w+)\.")
_SOURCE = re.compile(r"^\[\d+\] (series|policy|product|order) (\S+):", re.MULTILINE)
_ORDER_ACCESS = re.compile(r"^\[\d+\] order (\S+):.*\border_access=(\w+)", re.MULTILINE)
_SERIES_FACTS = re.compile(r"^\[\d+\] series (\S+): .*\{(.*)\}\s*$", re.MULTILINE)
HARD_FOR_HAIKU = {"discussion", "comparison", "translation"}


@dataclass(frozen=True)
class Prompt:
    task: str
    language: str
    sources: list[tuple[str, str]]  # (kind, id)
    user: str
    order_access: dict[str, str] = field(default_factory=dict)  # order id -> understand.order_access marker
    series_facts: dict[str, dict[str, str]] = field(default_factory=dict)  # series id -> its facts (role, why)


def parse_prompt(system: str, user: str) -> Prompt:
    task = _TASK.search(system)
    return Prompt(
        task=task.group(1) if task else "unknown",
        language="ja" if "Reply in Japanese" in system else "en",
        sources=[(m.group(1), m.group(2)) for m in _SOURCE.finditer(system)],
        user=user,
        order_access={m.group(1): m.group(2) for m in _ORDER_ACCESS.finditer(system)},
        series_facts={m.group(1): _facts(m.group(2)) for m in _SERIES_FACTS.finditer(system)},
    )


def _facts(block: str) -> dict[str, str]:
    """'role=pick; why=...' (answer.prompts.render_context) as a dict."""
    pairs = (item.partition("=") for item in block.split("; "))
    return {key.strip(): value.strip() for key, _, value in pairs if key.strip()}


def _role(prompt: Prompt, series_id: str) -> str:
    return prompt.series_facts.get(series_id, {}).get("role", "")


def count_tokens(text: str) -> int:
    """Roughly as Claude's tokenizer: ~4 Latin characters per token, ~1 token per Japanese character."""
    cjk = sum(1 for ch in text if ord(ch) > 0x2E80)
    return max(1, math.ceil((len(text) - cjk) / 4) + cjk)


def _ids(prompt: Prompt, kind: str) -> list[str]:
    return [sid for k, sid in prompt.sources if k == kind]


def _series(prompt: Prompt) -> list:
    ids = _ids(prompt, "series") + [pid.split("#")[0] for pid in _ids(prompt, "product")]
    return [catalog()[sid] for sid in dict.fromkeys(ids) if sid in catalog()]


def _title(series, ja: bool) -> str:
    return f"『{series.title_ja}』" if ja else series.title_en


def _greeting(prompt: Prompt, ja: bool) -> str:
    if ja:
        return "こんにちは！MangaAssistです。漫画探し、価格や在庫の確認、ご注文の状況など、お気軽にお尋ねください。"
    return "Hello! I'm MangaAssist. I can help you find manga, check prices and stock, or look up an order."


def _product(prompt: Prompt, ja: bool) -> str:
    lines = []
    for pid in _ids(prompt, "product"):
        series_id, volume = pid.split("#")
        series = catalog().get(series_id)
        if series is None:
            continue
        stock = series.stock_of(int(volume)) or 0
        if ja:
            status = f"在庫は{stock}冊です" if stock else "現在在庫切れです"
            lines.append(f"{_title(series, ja)}第{volume}巻は{series.price_jpy}円で、{status}。")
        else:
            status = f"we have {stock} in stock" if stock else "it is currently out of stock"
            lines.append(f"{series.title_en} vol. {volume} is ¥{series.price_jpy}, and {status}.")
    if lines:
        return " ".join(lines)
    missing = _missing(prompt, ja)
    if missing:
        return missing
    found = _series(prompt)[:2]
    if not found:
        return _not_found(ja)
    if ja:
        return " ".join(f"{_title(s, ja)}（{s.author}）は全{s.volumes}巻、1冊{s.price_jpy}円です。" for s in found)
    return " ".join(f"{s.title_en} by {s.author} has {s.volumes} volumes at ¥{s.price_jpy} each." for s in found)


def _order(prompt: Prompt, ja: bool) -> str:
    ids = _ids(prompt, "order")
    if not ids:
        return ("ご注文番号（MGA-で始まる番号）を教えていただければ、注文の状況をお調べします。" if ja
                else "Please tell me your order number (it starts with MGA-) and I'll check your order.")
    access = prompt.order_access.get(ids[0], "granted")
    if access != "granted":
        return _order_refused(ids[0], access, ja)
    order = orders()[ids[0]]
    eta = order.get("eta") or ("未定" if ja else "not yet scheduled")
    carrier = order.get("carrier") or ("未定" if ja else "not yet assigned")
    if ja:
        return (f"ご注文 {order['order_id']} の状況は「{order['status']}」です。"
                f"配送業者: {carrier}、お届け予定日: {eta}。")
    return f"Your order {order['order_id']} is {order['status']}. Carrier: {carrier}; expected delivery: {eta}."


def _order_refused(order_id: str, access: str, ja: bool) -> str:
    """What the owner-only rule lets us say: the id the customer typed, and why nothing more."""
    if access == "sign_in_required":
        return (f"ご注文 {order_id} の状況を確認するには、ログインしてください。" if ja
                else f"Please sign in to see the status of order {order_id}.")
    if access == "rate_limited":
        return (f"ご注文の照会が続いたため、{order_id} の確認は数分後にもう一度お試しください。" if ja
                else f"There have been many order lookups just now; please ask about order {order_id} again "
                     "in a few minutes.")
    return (f"お客様のアカウントには、ご注文 {order_id} は見つかりませんでした。ご注文番号をご確認ください。" if ja
            else f"There is no order {order_id} in your account. Please check the order number.")


def _faq(prompt: Prompt, ja: bool) -> str:
    found = [policies()[pid] for pid in _ids(prompt, "policy") if pid in policies()]
    if not found:
        return _not_found(ja)
    return found[0].body_ja if ja else found[0].body_en


def _missing(prompt: Prompt, ja: bool) -> str:
    """A volume past the last one, or a title the catalog does not carry: say so, and what to do."""
    for sid, facts in prompt.series_facts.items():
        series = catalog().get(sid)
        if facts.get("role") == "volume_not_found" and series is not None:
            asked, so_far = facts.get("requested_volume", "?"), series.status == "ongoing"
            if ja:
                return (f"ご指定の巻（{asked}）は見つかりませんでした。{_title(series, ja)}は"
                        f"{'現在' if so_far else ''}全{series.volumes}巻です。"
                        f"1〜{series.volumes}巻の中からお選びください。")
            return (f"We couldn't find a {_ordinal(asked)} volume of {series.title_en}: the series has "
                    f"{series.volumes} volumes{' so far' if so_far else ''}. "
                    f"Please choose one from 1 to {series.volumes}.")
        if facts.get("role") == "title_not_found":
            title = facts.get("asked_title", "")
            if ja:
                return (f"「{title}」は当店のカタログに見つかりませんでした。タイトルの表記をご確認いただくか、"
                        "作者名や似ている作品を教えていただければ、近い作品をお探しします。")
            return (f"I couldn't find \"{title}\" in our catalog. Please check the spelling, or tell me the author "
                    "or a series it is like and I'll suggest something similar.")
    return ""


def _ordinal(number: str) -> str:
    """'120th', '121st': the missing volume named without "volume 120", which would read as a claim it exists."""
    if not number.isdigit():
        return number
    n = int(number)
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _first_sentence(text: str) -> str:
    end = min((i for i in (text.find("。"), text.find(". ")) if i >= 0), default=-1)
    return text if end < 0 else text[: end + 1]


def _recommend(prompt: Prompt, ja: bool) -> str:
    """The picks with why they fit; never a series the customer asked about or has read."""
    ids = [sid for sid in dict.fromkeys(_ids(prompt, "series")) if sid in catalog()]
    picks = [catalog()[sid] for sid in ids if _role(prompt, sid) == "pick"][:3]
    if not picks:
        picks = [catalog()[sid] for sid in ids if not _role(prompt, sid)][:3]
    if not picks:
        return _missing(prompt, ja) or _not_found(ja)
    liked = [catalog()[sid] for sid in ids if _role(prompt, sid) == "asked_about"][:2]

    def line(s: Series) -> str:
        why = prompt.series_facts.get(s.id, {}).get("why", "")
        synopsis = _first_sentence(s.synopsis_ja if ja else s.synopsis_en)
        return f"・{_title(s, ja)}: {why}{synopsis}" if ja else f"- {s.title_en}: {why} {synopsis}".replace("  ", " ")

    if ja:
        intro = (f"{'・'.join(_title(s, ja) for s in liked)}がお好きなら、こちらはいかがでしょう。" if liked
                 else "おすすめはこちらです。")
        return intro + "\n" + "\n".join(line(s) for s in picks)
    intro = f"If you like {' and '.join(s.title_en for s in liked)}, try these:" if liked else "Here are some picks:"
    return intro + "\n" + "\n".join(line(s) for s in picks)


def _summary(prompt: Prompt, ja: bool) -> str:
    picks = _series(prompt)[:1]
    if not picks:
        return _not_found(ja)
    s = picks[0]
    return f"{_title(s, ja)}: {s.synopsis_ja}" if ja else f"{s.title_en}: {s.synopsis_en}"


def _compare(prompt: Prompt, ja: bool) -> str:
    picks = _series(prompt)[:2]
    if len(picks) < 2:
        return _summary(prompt, ja)
    a, b = picks
    if ja:
        return (f"{_title(a, ja)}は{a.demographic}向けで{'・'.join(a.genres)}、全{a.volumes}巻。"
                f"{_title(b, ja)}は{b.demographic}向けで{'・'.join(b.genres)}、全{b.volumes}巻です。"
                "物語の重さや読みやすさで選ぶのがおすすめです。")
    return (f"{a.title_en} is {a.demographic} ({', '.join(a.genres)}), {a.volumes} volumes; "
            f"{b.title_en} is {b.demographic} ({', '.join(b.genres)}), {b.volumes} volumes. "
            "Pick by the tone and pacing you prefer.")


def _discuss(prompt: Prompt, ja: bool) -> str:
    picks = _series(prompt)[:1]
    if not picks:
        return _not_found(ja)
    s = picks[0]
    if ja:
        return f"{_title(s, ja)}の中心にあるのは{'・'.join(s.genres)}の要素です。{s.synopsis_ja}"
    return f"At its heart, {s.title_en} is about {', '.join(s.genres)}. {s.synopsis_en}"


def _translate(prompt: Prompt, ja: bool) -> str:
    titles = [catalog()[sid] for sid in find_titles(prompt.user)]
    if titles:
        s = titles[0]
        return f"{s.title_en} の日本語タイトルは『{s.title_ja}』です。" if ja else \
            f"The Japanese title {s.title_ja} is published in English as {s.title_en}."
    return ("翻訳したい文章をそのまま送ってください。" if ja
            else "Please send the exact text you would like translated.")


def _not_found(ja: bool) -> str:
    return ("申し訳ありませんが、該当する情報が見つかりませんでした。タイトルや巻数を教えていただけますか？" if ja
            else "I couldn't find that in our catalog. Could you tell me the title or volume?")


def _unknown(prompt: Prompt, ja: bool) -> str:
    return ("ご質問の内容をもう少し詳しく教えていただけますか？" if ja
            else "Could you tell me a little more about what you're looking for?")


_COMPOSERS = {
    "greeting": _greeting, "product_search": _product, "order_status": _order, "faq": _faq,
    "recommendation": _recommend, "summarization": _summary, "comparison": _compare, "discussion": _discuss,
    "translation": _translate, "unknown": _unknown,
}


def answer(profile: str, prompt: Prompt) -> str:
    """The answer of the `profile` tier (haiku, sonnet, sagemaker) to this prompt."""
    ja = prompt.language == "ja"
    text = _COMPOSERS.get(prompt.task, _unknown)(prompt, ja)
    if profile == "haiku" and prompt.task in HARD_FOR_HAIKU:
        hedge = "はっきりとは分かりませんが、おそらく" if ja else "I'm not sure, but perhaps: "
        text = hedge + text
    return text
