"""Route state: the hybrid router's decision for this turn."""

from datetime import UTC, datetime

from mangaassist.answer.health import CHAIN, health_board
from mangaassist.answer.routing import avoid_open_circuits, decide, jst_day, spent_today_or_none
from mangaassist.lambda_task import state_task
from mangaassist.turn import RouteDecision, TurnState
from mangaassist.wiring import spend_ledger


def _route(state: TurnState) -> RouteDecision:
    if state.understanding is None:
        raise ValueError("route needs the classification")
    now = datetime.now(UTC)
    spent = spent_today_or_none(spend_ledger(), jst_day(now))
    decision = decide(state.understanding.classification, state.config, spent, now)
    return avoid_open_circuits(decision, health_board(), CHAIN)


lambda_handler = state_task(_route)
