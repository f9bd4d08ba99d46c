"""The order_access marker: the prompt's rule, the local model's answer in both languages, and Validate accepting it."""

from __future__ import annotations

import pytest

from mangaassist.answer.prompts import system_prompt
from mangaassist.reply.validate import validate
from mangaassist.turn import Answer, SourceRef, Target, Task
from mangaassist.understand.order_access import marker
from mangaassist_local.local_model import answer, parse_prompt

ORDER = "MGA-2025-00102"
LEAKS = ("delivered", "Yamato", "4521-8830-1027", "2025-01-17", "配達")


@pytest.mark.parametrize("access, en, ja", [
    ("sign_in_required", "sign in", "ログイン"),
    ("not_found", f"no order {ORDER} in your account", "見つかりませんでした"),
    ("rate_limited", "again in a few minutes", "数分後"),
])
def test_a_marker_becomes_its_answer_in_either_language_and_validates(access: str, en: str, ja: str) -> None:
    sources = [marker(ORDER, access)]  # type: ignore[arg-type]
    for language, phrase in (("en", en), ("ja", ja)):
        system = system_prompt(Task.ORDER_STATUS, language, sources)
        assert f"order_access={access}" in system and f"order {ORDER}" in system  # the rule and the marker
        text = answer("haiku", parse_prompt(system, f"Where is {ORDER}?"))
        assert phrase in text and ORDER in text
        assert not [leak for leak in LEAKS if leak in text]
        verdict = validate(Answer(text=text, target=Target.HAIKU, confidence=0.9), Task.ORDER_STATUS, language,
                           sources, query=f"Where is {ORDER}?")
        assert verdict.decision == "accept", (text, verdict.failures)


def test_a_granted_order_still_answers_with_its_details() -> None:
    granted = SourceRef(kind="order", id=ORDER, title=f"Order {ORDER}",
                        facts={"status": "delivered", "carrier": "Yamato Transport", "eta": "2025-01-17",
                               "order_access": "granted"})
    system = system_prompt(Task.ORDER_STATUS, "en", [granted])
    assert "not signed in" not in system and "not in this customer's account" not in system
    text = answer("haiku", parse_prompt(system, f"Where is {ORDER}?"))
    assert "delivered" in text and "Yamato Transport" in text
