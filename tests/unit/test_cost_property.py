"""Property: a turn's cost is never negative and is exactly the sum of its tiers' costs."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from mangaassist.answer.pricing import cost_usd
from mangaassist.reply.finalize import finalize
from mangaassist.turn import Outcome, Target, TierCall, Validation

from .conftest import make_answer, make_route, make_state

tier_calls = st.builds(
    lambda target, tokens_in, tokens_out, outcome: TierCall(
        target=target, model_id="m", input_tokens=tokens_in, output_tokens=tokens_out,
        cost_usd=cost_usd(target, tokens_in, tokens_out), outcome=outcome),
    st.sampled_from(list(Target)), st.integers(0, 200_000), st.integers(0, 8_192), st.sampled_from(list(Outcome)),
)


@given(tiers=st.lists(tier_calls, min_size=1, max_size=4), accepted=st.booleans(),
       escalation_failed=st.sampled_from([None, "ModelThrottledError", "ModelTimeoutError"]))
def test_turn_cost_is_the_exact_non_negative_sum_of_its_tiers(tiers, accepted, escalation_failed):
    state = make_state(route=make_route(), answer=make_answer(tiers=tiers),
                       validation=Validation(decision="accept" if accepted else "fallback"),
                       escalation_failure=escalation_failed)
    meta = finalize(state)["meta"]
    total = Decimal(meta["cost_usd"])
    assert total >= 0
    assert total == sum((Decimal(t["cost_usd"]) for t in meta["tiers"]), Decimal(0))
    assert total == sum((t.cost_usd for t in tiers), Decimal(0))  # failed and canned tiers add nothing
    assert "E" not in meta["cost_usd"]
