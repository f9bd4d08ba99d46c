"""MangaAssist domain: one package behind the Lambda handlers, the CLI and the jobs."""

import time

__version__ = "0.1.0"
# When this execution environment began importing the layer: a handler's first invocation reports the time
# since then as its cold start (the init phase, lower bound: the interpreter's own start is not counted).
IMPORTED_AT = time.perf_counter()
