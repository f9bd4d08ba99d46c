"""MangaAssist domain: one package behind the Lambda handlers, the CLI and the jobs."""

__version__ = "0.1.0"
