"""avoid_open_circuits: decisions move down their fallback chain past open circuits."""

from __future__ import annotations

from collections.abc import Sequence

from mangaassist.answer.health import CHAIN
from mangaassist.answer.routing import avoid_open_circuits
from mangaassist.turn import Target

from .conftest import make_route


class Open:
    def __init__(self, *targets: str) -> None:
        self.open = set(targets)

    def choose(self, preferred: Sequence[str], now: float | None = None) -> tuple[str | None, list[str]]:
        skipped = []
        for target in preferred:
            if target not in self.open:
                return target, skipped
            skipped.append(target)
        return None, skipped


def test_healthy_targets_keep_the_decision():
    decision = make_route()
    assert avoid_open_circuits(decision, Open(), CHAIN) == decision


def test_open_haiku_goes_to_sonnet_and_drops_escalation_to_the_same_tier():
    rerouted = avoid_open_circuits(make_route(Target.HAIKU, Target.SONNET, Target.SONNET), Open("haiku"), CHAIN)
    assert rerouted.target is Target.SONNET and rerouted.escalate_to is None
    assert rerouted.fallback is Target.CANNED and rerouted.reason.endswith("+circuit_open:haiku")


def test_open_sagemaker_goes_to_haiku_with_sonnet_behind_it():
    decision = make_route(Target.SAGEMAKER, Target.HAIKU, Target.SONNET, reason="manga_specific")
    rerouted = avoid_open_circuits(decision, Open("sagemaker"), CHAIN)
    assert (rerouted.target, rerouted.fallback, rerouted.escalate_to) == (Target.HAIKU, Target.SONNET, Target.SONNET)


def test_provisioned_down_chain_skips_every_open_target():
    decision = make_route(Target.SONNET_PROVISIONED, Target.SONNET, None, reason="peak_provisioned")
    rerouted = avoid_open_circuits(decision, Open("sonnet_provisioned", "sonnet"), CHAIN)
    assert rerouted.target is Target.HAIKU
    assert rerouted.reason == "peak_provisioned+circuit_open:sonnet_provisioned,sonnet"


def test_budget_guard_never_escapes_to_sonnet_and_everything_open_is_canned():
    guarded = make_route(Target.HAIKU, Target.CANNED, None, reason="budget_guard")
    assert avoid_open_circuits(guarded, Open("haiku"), CHAIN).target is Target.CANNED
    everything = avoid_open_circuits(make_route(), Open("haiku", "sonnet"), CHAIN)
    assert (everything.target, everything.fallback, everything.escalate_to) == (Target.CANNED, Target.CANNED, None)
