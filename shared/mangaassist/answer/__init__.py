"""Answer it: route to a model tier, attempt, score confidence, escalate; prices and model health."""
