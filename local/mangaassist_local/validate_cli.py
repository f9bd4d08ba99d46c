"""`mangaassist validate [FILE|-]`: the Validate state's checks on answers given as JSON lines.

Each line: {"query", "response", "sources": [{"id", "text"}], "locale"?, "task"?}. Each answer line:
{"decision": "accept|retry|fallback", "failures": [...]}; grounding reads the given source texts with the same
function the Validate state runs on the retrieved records' texts (reply.grounding.ground). A line that is not
JSON, or not such an object, gets {"line", "error"}; then the exit code is 1.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mangaassist.reply.grounding import SourceText
from mangaassist.reply.validate import assess, decide
from mangaassist.text import detect_language, find_order_ids, message_language, reply_language
from mangaassist.turn import Task


class SourceIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    text: str


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    query: str = ""
    response: str
    sources: list[SourceIn] = Field(default_factory=list)
    locale: Literal["ja", "en"] | None = None
    task: Task | None = None  # default: order_status when the query names an order, else unknown


def judge(case: CaseIn) -> dict[str, Any]:
    """The decision on one answer, as a first attempt (a grounding failure is `retry`, a safety one `fallback`)."""
    if case.query:
        language = message_language(case.query, case.locale)
    else:
        language = case.locale or reply_language(detect_language(case.response), None)
    task = case.task or (Task.ORDER_STATUS if find_order_ids(case.query) else Task.UNKNOWN)
    failures = assess(case.response, [SourceText(s.id, s.text) for s in case.sources], language=language,
                      task=task, query=case.query)
    return {"decision": decide(failures, can_retry=True), "failures": failures}


def judge_lines(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, result) per non-blank line: the decision, or {"line", "error"} for a line that cannot be
    judged."""
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except (ValueError, RecursionError):
            yield number, {"line": number, "error": "not JSON"}
            continue
        try:
            yield number, judge(CaseIn.model_validate(raw))
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "line"
            yield number, {"line": number, "error": f"{where}: {first['msg']}"}


def _table(numbered: list[tuple[int, dict[str, Any]]]) -> str:
    rows = [("line", "decision", "failures")]
    for number, result in numbered:
        if "error" in result:
            rows.append((str(number), "ERROR", result["error"]))
        else:
            rows.append((str(number), result["decision"], ", ".join(result["failures"]) or "-"))
    results = [result for _, result in numbered]
    width = [max(len(row[i]) for row in rows) for i in range(2)]
    lines = [f"{row[0]:<{width[0]}}  {row[1]:<{width[1]}}  {row[2]}" for row in rows]
    counts = {d: sum(1 for r in results if r.get("decision") == d) for d in ("accept", "retry", "fallback")}
    errors = sum(1 for r in results if "error" in r)
    lines.append(f"\n{len(results)} lines: {counts['accept']} accept, {counts['retry']} retry, "
                 f"{counts['fallback']} fallback, {errors} errors")
    return "\n".join(lines)


def validate(
    file: Annotated[str, typer.Argument(help="JSON lines to check, or - for standard input.")] = "-",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON result per line.")] = False,
) -> None:
    """Check answers as the Validate state does: {"query","response","sources":[{"id","text"}],"locale"?} per
    line -> {"decision": "accept|retry|fallback", "failures": [...]} per line."""
    try:
        handle = sys.stdin if file == "-" else Path(file).open(encoding="utf-8")  # closed below
    except OSError as error:
        typer.echo(f"mangaassist validate: cannot read {file}: {error.strerror}", err=True)
        raise typer.Exit(2) from None
    results: list[tuple[int, dict[str, Any]]] = []
    progress = sys.stderr.isatty() and not as_json
    try:
        for number, result in judge_lines(handle):
            results.append((number, result))
            if as_json:
                typer.echo(json.dumps(result, ensure_ascii=False))
            elif progress and len(results) % 50 == 0:
                typer.echo(f"\r{len(results)} lines checked", err=True, nl=False)
    except UnicodeDecodeError:
        typer.echo(f"mangaassist validate: {file} is not UTF-8 text", err=True)
        raise typer.Exit(2) from None
    finally:
        if handle is not sys.stdin:
            handle.close()
    if progress and len(results) >= 50:
        typer.echo("", err=True)
    if not as_json:
        typer.echo(_table(results))
    if any("error" in result for _, result in results):
        raise typer.Exit(1)
