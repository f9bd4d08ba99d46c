"""Validate state: accept the answer, retry once on the other tier, or fall back."""

from mangaassist.lambda_task import prime, state_task
from mangaassist.reply.validate import validate
from mangaassist.text import prepare_titles, reply_language
from mangaassist.turn import TurnState, Validation


def _validate(state: TurnState) -> Validation:
    if state.answer is None or state.understanding is None:
        return Validation(decision="fallback", failures=["no_answer"])
    classification = state.understanding.classification
    language = reply_language(classification.language, state.request.locale)
    return validate(state.answer, classification.task, language, state.understanding.retrieval.sources,
                    query=state.request.message)


lambda_handler = state_task(_validate)

prime(prepare_titles)
