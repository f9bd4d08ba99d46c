"""Named errors. A Lambda error's name is its class name, which is what the
state machine's Retry and Catch blocks match on (statemachines/chat_turn.asl.json)."""


class MangaAssistError(Exception):
    """Base of the domain's errors."""


class ModelThrottledError(MangaAssistError):
    """The model refused for capacity (HTTP 429 / ThrottlingException): retried with backoff."""


class ModelTimeoutError(MangaAssistError):
    """The model did not answer within the budget."""


class ModelUnavailableError(MangaAssistError):
    """The model or its endpoint is down or failing (5xx, not ready, circuit open)."""


class ModelRequestError(MangaAssistError):
    """We sent a request the model rejected (4xx other than throttling): not retried."""


class TurnTimeoutError(MangaAssistError):
    """The chat-turn execution did not finish within the turn's deadline (mangaassist.deadlines)."""


class DependencyThrottledError(MangaAssistError):
    """A data service (DynamoDB, embeddings) throttled: retried by the state machine."""


def outcome_of(error_name: str) -> str:
    """Map an error name from a Catch to a tier outcome for the answer's meta."""
    if error_name == ModelThrottledError.__name__:
        return "throttled"
    if error_name in (ModelTimeoutError.__name__, "States.Timeout"):
        return "timeout"
    return "error"
