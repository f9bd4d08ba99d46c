"""Interpreter settings for the stack's long-running processes (the serve process, the model server)."""

from __future__ import annotations

import gc
import sys

# Collections: the youngest every this many allocations (Python's default 700), the middle every 50 of those, the
# oldest every 1,000 middle ones (and, as always, not before the long-lived objects grew by a quarter).
GC_THRESHOLDS = (20_000, 50, 1_000)


def quiet_garbage_collector() -> None:
    """The serve process holds moto's backends, which grow with every turn (DynamoDB items are trees of Python
    objects). Python's collector walked all of them: at 5 turns/s it paused every thread of the process for
    0.4-0.9 s about once a minute, longer as the tables grew, and spent 5-10% of the process's time besides.
    What exists once the stack has started (moto, botocore's models, the catalog) is moved out of the collector's
    reach (gc.freeze), and the young generations are collected less often: cyclic garbage is still collected."""
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


# How long a thread may hold the GIL while others wait for it (Python's default is 5 ms).
SWITCH_INTERVAL_S = 0.001


def responsive_threads() -> None:
    """The serve process is a hub of a few hundred threads that mostly wait on sockets (the AWS endpoint's pool, the
    gateway, the pollers, the invocations). With Python's 5 ms switch interval a thread whose reply has arrived
    waits up to 5 ms behind any thread that is computing, and a turn crosses a dozen such hand-offs. At 5 turns/s
    (`mangaassist loadtest --pattern mix`, the same four seeds, twice each way) a 1 ms interval lowered p95 in 7 of
    8 windows, by 15-37%; p50 moved little (-23% to +7%)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
