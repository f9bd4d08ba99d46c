"""The open-loop client: every turn is put on the event loop's clock (loop.call_at) before the first is sent,
and goes out on time whatever the replies do.

Each turn has a WebSocket connection to itself while it is in flight: an idle connection from the pool, or a
new one (whose connect time then counts in the turn's latency). The client frame carries no id and the answer's
turnId is made by the stack, so one turn per connection at a time is what matches a reply to its send; it is
also what a customer's browser does, and the local gateway runs a connection's frames one after another, so
several turns on one connection would queue behind each other in a way API Gateway does not. A turn that gets
no reply in time closes its connection: a late reply can never be taken for the next turn's.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
from websockets.protocol import State

from mangaassist.quality.load_report import CLIENT_TIMEOUT, TurnSample, sample_from_reply, sample_without_reply
from mangaassist.quality.traffic_mix import LoadMessage

LEAD_S = 0.5  # the first arrival's offset from the moment the schedule is armed
MAX_WARM = 200
WARM_BATCH = 4


@dataclass(frozen=True)
class PlannedTurn:
    index: int
    at: float  # seconds from the start
    message: LoadMessage
    session_id: str


@dataclass
class RunProgress:
    due: int = 0
    sent: int = 0
    replied: int = 0
    failed: int = 0
    in_flight: int = 0
    connections_opened: int = 0


@dataclass
class LoadRun:
    samples: list[TurnSample]
    connections_opened: int  # in all, the warmed ones included
    elapsed_s: float
    warmed: int = 0
    progress: RunProgress = field(default_factory=RunProgress)


class _Client:
    def __init__(self, ws_url: str, timeout: float, open_timeout: float) -> None:
        self.ws_url = ws_url
        self.timeout = timeout
        self.open_timeout = open_timeout
        # FIFO: each connection rests between its turns, as one customer's would (and stays under per-connection
        # rate limits); LIFO would send almost every turn down the same socket when replies are fast.
        self.idle: deque[ClientConnection] = deque()
        self.closing: set[asyncio.Task[None]] = set()
        self.progress = RunProgress()
        self.start = 0.0  # loop time of offset 0
        self.warmed = 0  # connections opened before the start

    async def open(self) -> ClientConnection:
        connection = await connect(self.ws_url, open_timeout=self.open_timeout, max_size=2 ** 20,
                                   ping_interval=None, compression=None)
        self.progress.connections_opened += 1
        return connection

    async def warm(self, count: int) -> None:
        for start in range(0, count, WARM_BATCH):  # a few at a time: each one is a $connect invocation
            results = await asyncio.gather(*(self.open() for _ in range(min(WARM_BATCH, count - start))),
                                           return_exceptions=True)
            self.idle.extend(r for r in results if isinstance(r, ClientConnection))

    def _idle_connection(self) -> ClientConnection | None:
        """The longest-idle open connection (one the server closed meanwhile is dropped)."""
        while self.idle:
            connection = self.idle.popleft()
            if connection.state is State.OPEN:
                return connection
        return None

    async def turn(self, planned: PlannedTurn) -> TurnSample:
        loop = asyncio.get_running_loop()
        progress = self.progress
        progress.in_flight += 1
        kind, due = planned.message.kind, planned.at
        deadline = self.start + due + self.timeout  # the client's timeout runs from the scheduled time too
        connection: ClientConnection | None = None
        sent: float | None = None
        try:
            open_connection = self._idle_connection()
            if open_connection is None:
                open_connection = await asyncio.wait_for(self.open(), max(deadline - loop.time(), 0.001))
            connection = open_connection
            frame = {"action": "sendMessage", "sessionId": planned.session_id, "message": planned.message.text}
            await open_connection.send(json.dumps(frame, ensure_ascii=False))
            sent = loop.time() - self.start
            progress.sent += 1
            raw = await asyncio.wait_for(open_connection.recv(), max(deadline - loop.time(), 0.001))
            replied = loop.time() - self.start
            try:
                reply: Any = json.loads(raw)
            except ValueError:
                reply = None
            self.idle.append(open_connection)
            connection = None
            progress.replied += 1
            return sample_from_reply(planned.index, kind, due, sent, replied, reply)
        except TimeoutError:
            progress.failed += 1
            return sample_without_reply(planned.index, kind, due, sent, CLIENT_TIMEOUT)
        except ConnectionClosed:
            progress.failed += 1
            return sample_without_reply(planned.index, kind, due, sent, "CONNECTION_CLOSED")
        except (OSError, InvalidHandshake, InvalidURI) as error:
            progress.failed += 1
            return sample_without_reply(planned.index, kind, due, sent,
                                        "CONNECT_REFUSED" if isinstance(error, InvalidHandshake) else "CONNECT_FAILED")
        finally:
            progress.in_flight -= 1
            if connection is not None:  # no reply (or a broken one): never reuse it
                self.closing.add(closing := loop.create_task(_close(connection)))
                closing.add_done_callback(self.closing.discard)

    async def run(self, plan: list[PlannedTurn], warm: int, report: Callable[[RunProgress, float], None] | None,
                  report_every: float) -> LoadRun:
        loop = asyncio.get_running_loop()
        if warm:
            await self.warm(warm)
        self.warmed = self.progress.connections_opened
        tasks: list[asyncio.Task[TurnSample]] = []
        self.start = loop.time() + LEAD_S
        wall_start = time.perf_counter()

        def fire(planned: PlannedTurn) -> None:
            self.progress.due += 1
            tasks.append(loop.create_task(self.turn(planned)))

        for planned in plan:  # the whole schedule is armed before the first send
            loop.call_at(self.start + planned.at, fire, planned)
        next_report = self.start + report_every
        while self.progress.due < len(plan) or any(not t.done() for t in tasks):
            await asyncio.sleep(0.05)
            if report is not None and loop.time() >= next_report:
                report(self.progress, loop.time() - self.start)
                next_report += report_every
        samples = sorted((t.result() for t in tasks), key=lambda s: s.index)
        await asyncio.gather(*(_close(c) for c in self.idle), *self.closing)
        return LoadRun(samples=samples, connections_opened=self.progress.connections_opened, warmed=self.warmed,
                       elapsed_s=time.perf_counter() - wall_start, progress=self.progress)


async def _close(connection: ClientConnection) -> None:
    try:
        await asyncio.wait_for(connection.close(), 2)
    except (TimeoutError, ConnectionClosed, OSError):
        pass


def warm_connections(peak_rate: float) -> int:
    """Connections to open before the start: customers are connected before they write, so about four seconds'
    worth of turns at the peak rate; more are opened during the run only when all of these are busy."""
    return min(math.ceil(peak_rate * 4) + 2, MAX_WARM)


def run_load(plan: list[PlannedTurn], ws_url: str, timeout: float = 30.0, warm: int = 0,
             progress: TextIO | None = None, report_every: float = 5.0, open_timeout: float = 10.0) -> LoadRun:
    """Send `plan` to `ws_url` open loop; blocks until every turn has its reply or its timeout."""
    def report(p: RunProgress, at: float) -> None:
        if progress is not None:
            progress.write(f"  {at:6.1f} s  sent {p.sent}/{len(plan)}, replied {p.replied}, failed {p.failed}, "
                           f"in flight {p.in_flight}, connections {p.connections_opened}\n")
            progress.flush()

    client = _Client(ws_url, timeout, open_timeout)
    return asyncio.run(client.run(plan, warm, report if progress is not None else None, report_every))


def default_progress() -> TextIO:
    return sys.stderr
