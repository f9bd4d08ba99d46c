"""Route state: the hybrid router's decision for this turn."""

from datetime import UTC, datetime

from mangaassist.routing import decide, jst_day
from mangaassist.services import spend_ledger
from mangaassist.state_task import state_task
from mangaassist.turn import RouteDecision, TurnState


def _route(state: TurnState) -> RouteDecision:
    if state.understanding is None:
        raise ValueError("route needs the classification")
    now = datetime.now(UTC)
    spent = spend_ledger().spent_today(jst_day(now))
    return decide(state.understanding.classification, state.config, spent, now)


lambda_handler = state_task(_route)
