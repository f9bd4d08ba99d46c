"""Understand the message: its embedding, task, language and entities (classify), and its sources (retrieve)."""
