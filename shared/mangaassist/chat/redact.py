"""Personal data out of what the session store keeps: e-mails, phone numbers, card numbers, My Number and
addresses in the customer's message and the answer become placeholders before the turn is written.

Powertools Data Masking's `erase` masks whole fields or one regex per field; these kinds need validation (Luhn,
the My Number check digit, phone number shapes), so the spans are found here, with the validators of reply.pii,
on the same normalised text (NFKC, no format characters, one kind of dash). As a last guard, a text in which
reply.pii still sees personal data after redaction is not kept at all.
"""

from __future__ import annotations

import re

from mangaassist.reply.pii import luhn, my_number_valid, normalise, pii_failures

WITHHELD = "[redacted]"

_EMAIL = re.compile(r"[\w.+-]+\s?(?:@|\[at\]|\(at\)|アットマーク)\s?[\w-]+(?:\s?(?:\.|\[dot\]|\(dot\))\s?[\w-]+)*"
                    r"\s?(?:\.|\[dot\]|\(dot\))\s?[a-z]{2,}", re.IGNORECASE)
_NUMBER_RUN = re.compile(r"(?<![A-Za-z0-9.\-/])\+?\(?\d+\)?(?:[ .\-/]?\(?\d+\)?)*(?![A-Za-z0-9\-/])")
_TRACKING_CUE = re.compile(r"(?:tracking|追跡|伝票|問い合わせ番号|お問合せ番号)[^0-9]{0,20}$", re.IGNORECASE)
_MY_NUMBER_CUE = re.compile(r"my\s?number|マイナンバー|個人番号", re.IGNORECASE)
_KANJI_NUM = "一二三四五六七八九十〇"
_ADDRESSES = (
    re.compile(r"〒\s?\d{3}-?\d{4}|(?:郵便番号|postal code|zip code|post code)\s*:?\s*\d{3}-?\d{4}", re.IGNORECASE),
    re.compile(r"(?:東京都|北海道|(?:京都|大阪)府|[^\s、。]{2,3}県)[^\s、。]{0,12}?[市区町村郡][^\s、。]{0,15}?"
               rf"(?:[\d{_KANJI_NUM}]+\s*丁目(?:[\d{_KANJI_NUM}]+\s*番地?)?(?:[\d{_KANJI_NUM}]+\s*号)?|\d+\s*番地?"
               r"|\d+(?:-\d+)+)"),
    # ASCII word edges: a Japanese character right after "Minato-ku" is a \w and would hide the \b.
    re.compile(r"\d+(?:-\d+){1,2},?\s+[a-z]+(?:[\s-][a-z]+)?,?\s+[a-z]+-(?:ku|shi|cho|machi|gun|mura)(?![a-z])"
               r"|(?<![a-z])[a-z]+-(?:ku|shi|cho|machi|gun|mura),?\s+(?:tokyo|osaka|kyoto|hokkaido|[a-z]+-(?:ken|fu|to))"
               r"(?![a-z])[\s,]*\d{3}-?\d{4}"
               r"|(?<![a-z0-9])\d{1,5}\s+\w+\s+(?:street|st\.|avenue|ave\.|road|rd\.|boulevard|blvd\.?|lane|drive)",
               re.IGNORECASE),
)


def _phone(run: str, digits: str) -> bool:
    if run.startswith("+"):
        if digits.startswith("81"):
            return 9 <= len(digits[2:].removeprefix("0")) <= 10
        return 8 <= len(digits) <= 15
    if not digits.startswith("0"):
        return False
    if len(digits) == 11:
        return digits[:3] in ("050", "070", "080", "090") or digits.startswith(("0120", "0800"))
    return len(digits) == 10 and digits[1] != "0"


def _number_kind(folded: str, start: int, run: str) -> str | None:
    digits = re.sub(r"\D", "", run)
    if len(digits) < 8:
        return None
    before = folded[max(0, start - 40):start]
    if _phone(run, digits):
        return "[phone]"
    if 13 <= len(digits) <= 19 and luhn(digits):
        return "[card]"
    if len(digits) == 12 and not _TRACKING_CUE.search(before) and (
            my_number_valid(digits) or _MY_NUMBER_CUE.search(before)):
        return "[my number]"
    return None


def _numbers_in_run(folded: str, start: int, run: str) -> list[tuple[int, int, str]]:
    """The personal numbers in one run of digit groups. Spaces also separate words, so "1 090-1234-5678" is
    read as "1" and a phone number as well as one 12-digit number: the longest part that is personal data wins."""
    cuts = [0] + [i + 1 for i, ch in enumerate(run) if ch == " "]
    ends = [i for i, ch in enumerate(run) if ch == " "] + [len(run)]
    for length in range(len(run), 0, -1):
        for left in cuts:
            for right in ends:
                if right - left != length:
                    continue
                if kind := _number_kind(folded, start + left, run[left:right].strip()):
                    found = [(start + left, start + right, kind)]
                    if left:
                        found += _numbers_in_run(folded, start, run[:left - 1])
                    if right < len(run):
                        found += _numbers_in_run(folded, start + right + 1, run[right + 1:])
                    return found
    return []


def redact(text: str) -> str:
    """The text with personal data replaced; unchanged (not even normalised) when it holds none."""
    if not text:
        return text
    folded = normalise(text)
    spans: list[tuple[int, int, str]] = [(m.start(), m.end(), "[email]") for m in _EMAIL.finditer(folded)]
    for pattern in _ADDRESSES:
        spans += [(m.start(), m.end(), "[address]") for m in pattern.finditer(folded)]
    for match in _NUMBER_RUN.finditer(folded):
        spans += _numbers_in_run(folded, match.start(), match.group())
    if not spans and not pii_failures(text):
        return text
    redacted, cursor = [], 0
    for start, end, label in sorted(spans):
        if start < cursor:  # overlaps the span before (an address holding a phone number): already covered
            continue
        redacted += [folded[cursor:start], label]
        cursor = end
    result = "".join(redacted) + folded[cursor:]
    return WITHHELD if pii_failures(result) else result
