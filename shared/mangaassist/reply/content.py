"""What an answer must not contain besides PII and leaks: links off the allowlist, HTML and markdown images,
requests for the customer's personal data, and compliance with a jailbreak. Read on NFKC text without format
characters (reply.pii.normalise), so full-width and zero-width-split forms are caught too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from mangaassist.reply.pii import normalise

_TLDS = r"com|net|org|jp|io|co|info|xyz|ly|me|app|dev|ru|cn|tk|biz|shop|site|online|link|click|top|gg|to|cc"
_LINK = re.compile(
    r"\b(?:https?|ftp)://([^\s/?#<>()\"'「」『』\]]+)[^\s<>()\"'「」『』]*"
    r"|\bwww\.([^\s/?#<>()\"'「」『』\]]+)"
    rf"|(?<![@\w.\-/])((?:[a-z0-9\-]+\.)+(?:{_TLDS}))\b(?![@\w\-])",
    re.IGNORECASE,
)
_SCRIPT_URI = re.compile(r"\b(?:javascript|vbscript|data)\s*:", re.IGNORECASE)
_HTML = re.compile(r"<\s*/?\s*[a-z][a-z0-9\-]*(?:\s[^<>]*)?/?\s*>|<!--|&(?:lt|gt|amp|quot|#\d+|#x[0-9a-f]+);",
                   re.IGNORECASE)
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\s*\([^)]*\)")
_SENSITIVE_EN = (r"(?:credit )?card(?: number)?|cvv|cvc|security code|password|passcode|pin(?: code)?|my number|"
                 r"personal number|social security number|bank account(?: number)?|login")
_CONTACT_EN = r"(?:home |full |postal |mailing )?address|phone number|telephone number|mobile number|" \
              r"e-?mail(?: address)?|date of birth|birthday"
_ASK_EN = re.compile(
    rf"\b(?:tell|give|send|provide|share|confirm|let me know|need|require|type|enter|reply with|dm)\s+"
    rf"(?:me\s+|us\s+)?(?:with\s+)?(?:your|the)\s+(?:full\s+)?(?:{_SENSITIVE_EN}|{_CONTACT_EN})\b"
    rf"|\bwhat(?:'s| is) your\s+(?:{_SENSITIVE_EN}|{_CONTACT_EN})\b",
    re.IGNORECASE,
)
_SENSITIVE_JA = r"カード番号|クレジットカード|セキュリティコード|暗証番号|パスワード|マイナンバー|個人番号|口座番号"
_CONTACT_JA = r"ご?住所|お?電話番号|メールアドレス|生年月日"
_VERB_JA = r"教えて|お知らせ|お教え|送って|送信|お送り|ご提示|記入|お伺い|伺|お聞かせ|ご連絡"
_ASK_JA = re.compile(
    rf"(?:{_SENSITIVE_JA})(?:を|は|も)?[^。！？\n]{{0,12}}?(?:{_VERB_JA}|ご?入力)"
    rf"|(?:{_CONTACT_JA})(?:を|は|も)?[^。！？\n]{{0,12}}?(?:{_VERB_JA})"
)
# An answer that plays along: it announces a jailbroken mode or says it drops its rules.
_JAILBROKEN = re.compile(
    r"developer mode|\bdan mode|\bas dan\b|\bdan:|ignor(?:e|ing) (?:all |any |my |the )?"
    r"(?:previous|prior|above|earlier|original) (?:instructions|rules)|no longer (?:bound|restricted|limited)"
    r"|without (?:any )?(?:restrictions|filters|limitations)|unrestricted (?:ai|mode|assistant)"
    r"|i (?:can|will) (?:now )?(?:do|say|answer) anything|制限(?:なし|を解除|から解放)|指示を無視|開発者モード",
    re.IGNORECASE,
)
# A message that tries one, and an answer that begins by agreeing to it.
_JAILBREAK_ASK = re.compile(
    r"ignore (?:all |any |your |the )?(?:previous|prior|above|earlier)|you are now|from now on,? you|pretend (?:to "
    r"be|you)|act as|role-?play|\bdan\b|developer mode|jailbreak|system prompt|your instructions|new instructions"
    r"|指示を無視|今からあなたは|ふりをして|なりきって|システムプロンプト|制限を解除|開発者モード",
    re.IGNORECASE,
)
_AGREES = re.compile(r"\s*(?:sure|ok(?:ay)?|certainly|of course|understood|alright|as you wish|absolutely|yes|"
                     r"了解|わかりました|分かりました|承知|かしこまりました|はい)\b", re.IGNORECASE)


def link_hosts(text: str) -> list[str]:
    return [(m.group(1) or m.group(2) or m.group(3)).lower().rstrip(".") for m in _LINK.finditer(normalise(text))]


def _allowed(host: str, allowlist: Iterable[str]) -> bool:
    host = host.split("@")[-1].split(":")[0]
    return any(host == d or host.endswith("." + d) for d in (a.strip().lower() for a in allowlist) if d)


def content_failures(text: str, query: str = "", allowlist: Iterable[str] = ()) -> list[str]:
    folded = normalise(text)
    allow = list(allowlist)
    failures = []
    if _SCRIPT_URI.search(folded) or any(not _allowed(host, allow) for host in link_hosts(folded)):
        failures.append("link:not_allowed")
    if _HTML.search(folded):
        failures.append("markup:html")
    if _MD_IMAGE.search(folded):
        failures.append("markup:image")
    if _ASK_EN.search(folded) or _ASK_JA.search(folded):
        failures.append("request:personal_data")
    if _JAILBROKEN.search(folded) or (query and _JAILBREAK_ASK.search(normalise(query)) and _AGREES.match(folded)):
        failures.append("jailbreak:compliance")
    return failures
