"""Personal data in an answer: e-mail, phone numbers, card numbers, My Number, addresses.

Checked on normalised text (NFKC, format characters such as zero-width spaces removed, every dash one "-"), so
full-width, dotted and zero-width-split forms are caught like plain ones. Numbers the sources state (an order's
tracking number) are not personal data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mangaassist.textnorm import clean_text

# Dashes: ‐‑‒–—― − ﹘ ﹣ ⁃, and the long-vowel mark ー between digits (a phone typed in kana mode).
_DASHES = re.compile(r"[\u2010-\u2015\u2212\ufe58\ufe63\u2043]|(?<=\d)\s?\u30fc\s?(?=\d)")
_EMAIL = re.compile(r"[\w.+-]+\s?(?:@|\[at\]|\(at\)|アットマーク)\s?[\w-]+(?:\s?(?:\.|\[dot\]|\(dot\))\s?[\w-]+)*"
                    r"\s?(?:\.|\[dot\]|\(dot\))\s?[a-z]{2,}", re.IGNORECASE)
# A run of digit groups joined by one separator each; its digits decide what it is. ASCII lookarounds, because
# Japanese characters count as \w and must not hide a number ("電話090-1234-5678です").
_NUMBER_RUN = re.compile(r"(?<![A-Za-z0-9.\-/])\+?\(?\d[\d]*\)?(?:[ .\-/]?\(?\d+\)?)*(?![A-Za-z0-9\-/])")
_TRACKING_CUE = re.compile(r"(?:tracking|追跡|伝票|問い合わせ番号|お問合せ番号)[^0-9]{0,20}$", re.IGNORECASE)
_MY_NUMBER_CUE = re.compile(r"my\s?number|マイナンバー|個人番号", re.IGNORECASE)
_POSTCODE = re.compile(r"〒\s?\d{3}-?\d{4}|(?:郵便番号|postal code|zip code|post code)\s*:?\s*\d{3}-?\d{4}",
                       re.IGNORECASE)
_KANJI_NUM = "一二三四五六七八九十〇"
_JA_ADDRESS = re.compile(
    r"(?:東京都|北海道|(?:京都|大阪)府|[^\s、。]{2,3}県)[^\s、。]{0,12}?[市区町村郡][^\s、。]{0,15}?"
    rf"(?:[\d{_KANJI_NUM}]+\s*丁目|\d+\s*番地?|\d+-\d+)"
)
_ROMAJI_ADDRESS = re.compile(
    r"\d+(?:-\d+){1,2},?\s+[a-z]+(?:[\s-][a-z]+)?,?\s+[a-z]+-(?:ku|shi|cho|machi|gun|mura)\b"
    r"|\b[a-z]+-(?:ku|shi|cho|machi|gun|mura),?\s+(?:tokyo|osaka|kyoto|hokkaido|[a-z]+-(?:ken|fu|to))\b"
    r"[\s,]*\d{3}-?\d{4}"
    r"|\b\d{1,5}\s+\w+\s+(?:street|st\.|avenue|ave\.|road|rd\.|boulevard|blvd\.?|lane|drive)",
    re.IGNORECASE,
)


def normalise(text: str) -> str:
    """NFKC without control/format characters, every dash variant as "-"."""
    return _DASHES.sub("-", clean_text(text))


def luhn(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def my_number_valid(digits: str) -> bool:
    """The individual number's check digit (総務省令: 11 - Σ Pn·Qn mod 11, or 0 when the remainder is 0 or 1)."""
    if len(digits) != 12 or not digits.isdigit():
        return False
    body = [int(d) for d in digits[:11]][::-1]  # P1 is the digit right before the check digit
    remainder = sum(p * (n + 1 if n <= 6 else n - 5) for n, p in enumerate(body, 1)) % 11
    return int(digits[11]) == (0 if remainder <= 1 else 11 - remainder)


def _is_phone(run: str, digits: str) -> bool:
    if run.startswith("+"):
        if digits.startswith("81"):
            rest = digits[2:].removeprefix("0")  # +81 (0)90 ...
            return 9 <= len(rest) <= 10
        return 8 <= len(digits) <= 15 and bool(re.search(r"[ .\-()]", run))
    if not digits.startswith("0"):
        return False
    if len(digits) == 11:  # 050 IP, 070/080/090 mobiles, 0120/0800 toll-free at 11
        return digits[:3] in ("050", "070", "080", "090") or digits.startswith(("0120", "0800"))
    return len(digits) == 10 and digits[1] != "0"  # 03-1234-5678, 0120-123-456, 06 1234 5678


def pii_failures(text: str, known: Iterable[str] = ()) -> list[str]:
    """pii:<kind> for each kind found; `known`: texts of the sources (their numbers are not personal data)."""
    folded = normalise(text)
    stated = {re.sub(r"\D", "", m.group()) for k in known for m in _NUMBER_RUN.finditer(normalise(k))}
    failures = []
    if _EMAIL.search(folded):
        failures.append("pii:email")
    phone = card = my_number = False
    for match in _NUMBER_RUN.finditer(folded):
        run = match.group().strip()
        digits = re.sub(r"\D", "", run)
        if len(digits) < 8 or digits in stated:
            continue
        before = folded[max(0, match.start() - 40):match.start()]
        tracking = bool(_TRACKING_CUE.search(before))
        if _is_phone(run, digits):
            phone = True
        elif 13 <= len(digits) <= 19 and luhn(digits):
            card = True
        elif len(digits) == 12 and not tracking and (my_number_valid(digits) or _MY_NUMBER_CUE.search(before)):
            my_number = True
    failures += [name for name, found in (("pii:phone", phone), ("pii:card", card), ("pii:my_number", my_number))
                 if found]
    if _POSTCODE.search(folded) or _JA_ADDRESS.search(folded) or _ROMAJI_ADDRESS.search(folded):
        failures.append("pii:address")
    return failures
