"""`mangaassist smoke`: a post-deploy check over the real WebSocket.

On one connection: an English turn and a Japanese turn must each be answered
with a complete answer frame that is not the canned fallback; a malformed frame
must get an INVALID_JSON error; and the connection must still answer a turn
after it. Each step is a Check; the command passes only if all of them do.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

ENGLISH = "How much is One Piece volume 3?"
JAPANESE = "ワンピースの3巻はいくらですか？"
AFTER_ERROR = "Is One Piece volume 1 in stock?"
MALFORMED = "{not json"
# Answers to price and stock questions are never served from the answer cache, so every turn runs the models.
STEPS = ("answer (en)", "answer (ja)", "malformed frame -> INVALID_JSON", "answers after the error")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    ms: float
    skipped: bool = False  # not run: an earlier step could not complete

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def stack_websocket_url(stack_name: str, region: str | None, endpoint_url: str | None) -> str:
    """The WebSocketUrl output of a deployed stack; SeedError (one line) when it cannot be had."""
    from mangaassist_local.seed import clients, require_output, stack_outputs

    cloudformation = clients(region, endpoint_url)[0]
    return require_output(stack_outputs(cloudformation, stack_name), "WebSocketUrl", stack_name)


def answer_problems(frame: dict[str, Any], language: str) -> list[str]:
    """What is wrong with an answer frame (empty when it is a complete, validated answer in `language`)."""
    if frame.get("type") != "answer":
        if frame.get("type") == "error":
            return [f"got error {frame.get('code')}: {frame.get('message')}"]
        return [f"expected an answer frame, got type {frame.get('type')!r}"]
    problems = []
    if not frame.get("turnId"):
        problems.append("no turnId")
    if not isinstance(frame.get("text"), str) or not frame["text"].strip():
        problems.append("empty text")
    meta = frame.get("meta")
    if not isinstance(meta, dict):
        return [*problems, "no meta"]
    decision = (meta.get("validation") or {}).get("decision") if isinstance(meta.get("validation"), dict) else None
    if decision != "accept":
        failures = (meta.get("validation") or {}).get("failures") if isinstance(meta.get("validation"), dict) else None
        problems.append(f"validation.decision is {decision!r}, not 'accept'"
                        + (f" (failures: {', '.join(map(str, failures))})" if failures else "")
                        + (" - the canned fallback" if decision == "fallback" else ""))
    if not isinstance(meta.get("task"), str) or not meta["task"]:
        problems.append("meta.task missing")
    if meta.get("language") != language:
        problems.append(f"meta.language is {meta.get('language')!r}, expected {language!r}")
    tiers = meta.get("tiers")
    if not isinstance(tiers, list) or not tiers:
        problems.append(f"meta.tiers is {tiers!r}, expected a non-empty list (cache: {meta.get('cache')!r})")
    if not isinstance(meta.get("escalated"), bool):
        problems.append("meta.escalated missing")
    if not _number(meta.get("confidence")):
        problems.append(f"meta.confidence is {meta.get('confidence')!r}")
    if not isinstance(meta.get("cache"), str):
        problems.append("meta.cache missing")
    if not _number(meta.get("cost_usd")):
        problems.append(f"meta.cost_usd is {meta.get('cost_usd')!r}")
    latency = meta.get("latency_ms")
    if not isinstance(latency, dict) or not _number(latency.get("total")):
        problems.append(f"meta.latency_ms.total missing ({latency!r})")
    if not isinstance(meta.get("sources"), list):
        problems.append("meta.sources missing")
    return problems


def _number(value: Any) -> bool:
    if isinstance(value, bool) or value is None:
        return False
    try:
        float(value)  # cost_usd travels as a decimal string
    except (TypeError, ValueError):
        return False
    return True


def _summary(frame: dict[str, Any]) -> str:
    meta = frame.get("meta") or {}
    tiers = ",".join(f"{t.get('target')}:{t.get('outcome')}" for t in meta.get("tiers") or [] if isinstance(t, dict))
    text = " ".join(str(frame.get("text", "")).split())
    return f"{meta.get('task')} via {tiers or '-'}, {text[:60]}{'…' if len(text) > 60 else ''}"


def run_smoke(ws_url: str, timeout: float = 30.0, session_id: str | None = None) -> list[Check]:
    """Run the checks against `ws_url`; a step that cannot run ends the list with its failed check."""
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
    from websockets.sync.client import connect

    session = session_id or f"smoke-{uuid.uuid4().hex[:12]}"
    checks: list[Check] = []
    started = time.perf_counter()
    try:
        socket = connect(ws_url, open_timeout=min(timeout, 10.0))
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as error:
        detail = str(error) or type(error).__name__
        return [Check("connect", False, f"cannot connect to {ws_url}: {detail}", _ms(started)),
                *(Check(name, False, "not run", 0.0, skipped=True) for name in STEPS)]
    checks.append(Check("connect", True, ws_url, _ms(started)))

    def exchange(payload: str) -> dict[str, Any]:
        socket.send(payload)
        deadline = time.monotonic() + timeout
        while True:
            raw = socket.recv(timeout=max(deadline - time.monotonic(), 0.001))
            frame = json.loads(raw)
            if isinstance(frame, dict) and frame.get("type") in ("answer", "error"):
                return frame

    def turn(message: str, locale: str) -> str:
        return json.dumps({"action": "sendMessage", "sessionId": session, "message": message, "locale": locale},
                          ensure_ascii=False)

    steps: list[tuple[str, str, Any]] = [
        (STEPS[0], turn(ENGLISH, "en"), lambda f: answer_problems(f, "en")),
        (STEPS[1], turn(JAPANESE, "ja"), lambda f: answer_problems(f, "ja")),
        (STEPS[2], MALFORMED, _invalid_json_problems),
        (STEPS[3], turn(AFTER_ERROR, "en"), lambda f: answer_problems(f, "en")),
    ]
    try:
        for name, payload, problems_of in steps:
            started = time.perf_counter()
            try:
                frame = exchange(payload)
            except TimeoutError:
                checks.append(Check(name, False, f"no reply within {timeout:g} s", _ms(started)))
                break
            except ConnectionClosed as error:
                checks.append(Check(name, False, f"the connection closed: {error}", _ms(started)))
                break
            except ValueError as error:
                checks.append(Check(name, False, f"the reply is not JSON: {error}", _ms(started)))
                continue
            problems = problems_of(frame)
            ok = not problems
            detail = ("; ".join(problems) if problems else
                      f"{frame.get('code')}" if frame.get("type") == "error" else _summary(frame))
            checks.append(Check(name, ok, detail, _ms(started)))
    finally:
        socket.close()
    ran = {c.name for c in checks}
    return checks + [Check(name, False, "not run", 0.0, skipped=True) for name in STEPS if name not in ran]


def passed(checks: list[Check]) -> bool:
    return bool(checks) and all(c.ok for c in checks)


def failure_summary(checks: list[Check]) -> str:
    failed = [c.name for c in checks if not c.ok and not c.skipped]
    skipped = sum(c.skipped for c in checks)
    return ", ".join(failed) + (f" ({skipped} more not run)" if skipped else "")


def _invalid_json_problems(frame: dict[str, Any]) -> list[str]:
    if frame.get("type") != "error" or frame.get("code") != "INVALID_JSON":
        return [f"expected an INVALID_JSON error, got {frame.get('type')!r} {frame.get('code', '')}".rstrip()]
    if not frame.get("message"):
        return ["the error has no message"]
    return []


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def format_checks(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'check':<{width}}  {'':<4}  {'ms':>8}  detail"]
    lines += [f"{c.name:<{width}}  {'ok' if c.ok else 'SKIP' if c.skipped else 'FAIL':<4}  {c.ms:>8.0f}  {c.detail}"
              for c in checks]
    return "\n".join(lines)
