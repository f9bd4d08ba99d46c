"""`mangaassist optimize`: the SLA optimizer over the last N minutes of stored turns (mangaassist.tuning).

It prints the SLA status (SPEC section 3) and the recommendations, one step at a time, each with its reason;
`--apply` writes the step to the runtime configuration the chat turn reads (the RuntimeConfigTable: Route reads it
on every turn locally, cached 5 s as deployed), with an audit record; `--revert` undoes the last change,
`--reset` goes back to the deployed defaults, `--history` lists the versions.

Where: a running local stack (`--url` its gateway, `--aws-url` its AWS endpoint), or a deployed stack
(`--stack-name NAME [--region R]`; the tables from its outputs, the deployed threshold from its parameters).
Quality: `--quality`, else `--quality-file`, else the last `mangaassist regress` run's record (locally
$MANGAASSIST_CACHE/regress/last.json; deployed, the results bucket's quality/last-regression.json), else unknown.

Exit codes: 0 done (whatever the SLA status: the status is data, not an error); 2 refused or not possible.
"""

from __future__ import annotations

import getpass
import json
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

REGION = "ap-northeast-1"
LOCAL_GATEWAY = "http://127.0.0.1:8080"
LOCAL_AWS = "http://127.0.0.1:4566"


class OptimizeCliError(Exception):
    """One line for the user, exit 2."""


def _fail(message: str) -> NoReturn:
    typer.echo(f"mangaassist optimize: {message}", err=True)
    raise typer.Exit(2)


@dataclass
class Where:
    description: str
    dynamodb: Any
    sessions_table: str
    config_table: str
    deploy_threshold: float
    s3: Any = None
    results_bucket: str = ""


def _local(url: str, aws_url: str) -> Where:
    import boto3

    from mangaassist_local.invoke import gateway_at, local_aws_at
    from mangaassist_local.stack import REPO
    from mangaassist_local.template import Template

    url, aws_url = url.rstrip("/"), aws_url.rstrip("/")
    if not gateway_at(url) or not local_aws_at(aws_url):
        raise OptimizeCliError(f"no MangaAssist local stack answers at {url} (AWS at {aws_url}); start one with "
                               "`mangaassist serve`, or give --url/--aws-url, or --stack-name for a deployed stack")
    template = Template(REPO / "template.yaml", REGION)
    session = boto3.session.Session(region_name=REGION, aws_access_key_id="local",
                                    aws_secret_access_key="local")  # noqa: S106 - the local stack's dummy credentials
    return Where(description=f"the local stack at {url}",
                 dynamodb=session.client("dynamodb", endpoint_url=aws_url),
                 sessions_table=template.physical_name("SessionsTable"),
                 config_table=template.physical_name("RuntimeConfigTable"),
                 deploy_threshold=float(template.parameters["ConfidenceThreshold"]))


def _deployed(stack_name: str, region: str | None, endpoint_url: str | None) -> Where:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = boto3.session.Session(region_name=region)
    if not session.region_name:
        raise OptimizeCliError("no AWS region: pass --region or set AWS_REGION")
    kwargs = {"endpoint_url": endpoint_url} if endpoint_url else {}
    try:
        stacks = session.client("cloudformation", **kwargs).describe_stacks(StackName=stack_name)["Stacks"]
    except (ClientError, BotoCoreError) as error:
        raise OptimizeCliError(f"cannot read stack {stack_name!r}: {error}") from None
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stacks[0].get("Parameters", [])}
    missing = [k for k in ("SessionsTableName", "RuntimeConfigTableName") if not outputs.get(k)]
    if missing:
        raise OptimizeCliError(f"stack {stack_name!r} has no output {', '.join(missing)} (a MangaAssist stack "
                               "deployed with the optimizer?)")
    return Where(description=f"stack {stack_name} ({session.region_name})",
                 dynamodb=session.client("dynamodb", **kwargs), sessions_table=outputs["SessionsTableName"],
                 config_table=outputs["RuntimeConfigTableName"],
                 deploy_threshold=float(parameters.get("ConfidenceThreshold") or 0.80),
                 s3=session.client("s3", **kwargs), results_bucket=outputs.get("ResultsBucketName", ""))


def _quality(where: Where, value: float | None, path: Path | None) -> tuple[float | None, str, list[str]]:
    from mangaassist.tuning.quality import QualityUnreadable, quality_from_bucket, quality_from_file

    if value is not None:
        if not 0 <= value <= 1:
            raise OptimizeCliError(f"--quality {value}: a score in 0..1")
        return value, "--quality", []
    try:
        if path is not None:
            score, source = quality_from_file(path)
            return score, source, []
        if where.s3 is not None and where.results_bucket:
            found = quality_from_bucket(where.s3, where.results_bucket)
            return (found[0], found[1], []) if found else (None, "unknown", [])
        from mangaassist_local.stack import cache_root

        last = cache_root() / "regress" / "last.json"  # where `mangaassist regress` records its last run
        if last.exists():
            score, source = quality_from_file(last)
            return score, source, []
    except QualityUnreadable as error:
        if path is not None:
            raise OptimizeCliError(str(error)) from None
        return None, "unknown", [f"quality unknown: {error}"]
    return None, "unknown", []


def _who(given: str | None) -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return given or f"cli:{user}@{socket.gethostname()}"


# -- output ---------------------------------------------------------------------------------------------------------
def _actual(check: dict[str, Any]) -> str:
    value = check["actual"]
    if value is None:
        return "-"
    return {"ms": f"{value:,.0f} ms", "USD": f"${value:.6f}", "share": f"{value:.2%}"}.get(check["unit"],
                                                                                       f"{value:.3f}")


def _target(check: dict[str, Any]) -> str:
    value = check["target"]
    shown = {"ms": f"{value:,.0f} ms", "USD": f"${value}", "share": f"{value:.1%}"}.get(check["unit"], f"{value}")
    return f"{check['op']} {shown}"


def format_report(result: dict[str, Any]) -> str:
    f = result["figures"]
    window = result["window"]
    config = result["config"]
    lines = [f"SLA over {window['minutes']} min ({window['start']} .. {window['end']}): {f['turns']} turns "
             f"({f['model_turns']} ran the model, {f['cache_hits']} cache hits); quality from {f['quality_source']}",
             f"runtime configuration: version {config['version']}"
             + (f" ({config['action']} by {config['updated_by']} at {config['updated_at']})" if config['version']
                else " (the deployed defaults)"),
             "", f"  {'target':<20} {'actual':>12}  {'SLA':<14} status"]
    for check in result["sla"]:
        mark = {"ok": "ok", "breach": "BREACH", "unknown": "unknown"}[check["status"]]
        lines.append(f"  {check['name']:<20} {_actual(check):>12}  {_target(check):<14} {mark}")
    lines += ["", "recommendations (one step at a time):"]
    if not result["recommendations"]:
        lines.append("  none")
    for rec in result["recommendations"]:
        knob = rec["knob"] or "-"
        if rec.get("task"):
            knob += f"[{rec['task']}]"
        move = f"{rec['old']:g} -> {rec['new']:g}" if rec["old"] is not None and rec["new"] != rec["old"] else ""
        lines.append(f"  {rec['status']:<17} {knob:<34} {move:<14} {rec['reason']}")
    for note in result["notes"]:
        lines.append(f"note: {note}")
    if result["applied"]:
        lines.append(f"applied: version {result['applied']['version']}: {'; '.join(result['applied']['changes'])}")
    elif result["action"] is not None:
        lines.append("dry run: nothing written (--apply writes the proposed step)")
    return "\n".join(lines)


def format_record(record: dict[str, Any]) -> str:
    changes = "; ".join(f"{c['knob']}{'[' + c['task'] + ']' if c.get('task') else ''} {c['old']:g} -> {c['new']:g}"
                        for c in record["changes"]) or "no change"
    return (f"version {record['version']} ({record['action']}) by {record['updated_by']} at {record['updated_at']}: "
            f"{changes} - {record['reason']}")


def optimize(
    url: Annotated[str, typer.Option(help="A running local stack's gateway.")] = LOCAL_GATEWAY,
    aws_url: Annotated[str, typer.Option("--aws-url", help="That stack's AWS endpoint.")] = LOCAL_AWS,
    stack_name: Annotated[str | None, typer.Option("--stack-name", help="A deployed stack instead.")] = None,
    region: Annotated[str | None, typer.Option(help="The deployed stack's region.")] = None,
    window_minutes: Annotated[int, typer.Option("--window-minutes", min=1, max=1440,
                                                help="The sliding window of stored turns.")] = 60,
    apply: Annotated[bool, typer.Option("--apply", help="Write the proposed step to the runtime "
                                                        "configuration.")] = False,
    revert: Annotated[bool, typer.Option("--revert", help="Undo the last change (back to the previous "
                                                          "version).")] = False,
    reset: Annotated[bool, typer.Option("--reset", help="Back to the deployed defaults.")] = False,
    history: Annotated[bool, typer.Option("--history", help="List the configuration's versions.")] = False,
    quality: Annotated[float | None, typer.Option(help="The quality score to check (0..1).")] = None,
    quality_file: Annotated[Path | None, typer.Option("--quality-file", help="A regression last-run record "
                                                                             "(JSON).")] = None,
    cooldown_minutes: Annotated[int, typer.Option("--cooldown-minutes", min=0, max=1440,
                                                  help="Nothing moves this long after a change.")] = 30,
    min_turns: Annotated[int, typer.Option("--min-turns", min=1, help="Fewer turns in the window: nothing "
                                                                     "moves.")] = 20,
    at: Annotated[str | None, typer.Option(help="End the window at this time (ISO 8601; default now).")] = None,
    who: Annotated[str | None, typer.Option(help="Who applies (the audit record; default cli:user@host).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    endpoint_url: Annotated[str | None, typer.Option(hidden=True, help="Another AWS endpoint for "
                                                                       "--stack-name (tests).")] = None,
) -> None:
    """SLA status of the last N minutes of turns and the optimizer's next step (dry run unless --apply)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from mangaassist.jobs.cost_report import DynamoTurnSource
    from mangaassist.tuning.runtime_config import ConfigConflict, NothingToRevert, RuntimeConfigStore
    from mangaassist.tuning.runtime_config import revert as revert_config
    from mangaassist.tuning.service import record_json, run_optimizer

    if sum((apply, revert, reset, history)) > 1:
        _fail("give at most one of --apply, --revert, --reset, --history")
    try:
        now = datetime.fromisoformat(at) if at else datetime.now(UTC)
    except ValueError:
        _fail(f"--at {at!r}: expected an ISO 8601 time, e.g. 2026-11-30T12:00:00+00:00")
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    try:
        where = _deployed(stack_name, region, endpoint_url) if stack_name else _local(url, aws_url)
        store = RuntimeConfigStore(where.dynamodb, where.config_table)
        if history:
            records = [record_json(r, where.deploy_threshold) for r in store.history()]
            typer.echo(json.dumps({"history": records}, ensure_ascii=False, indent=2) if as_json else
                       "\n".join(map(format_record, records)) or "no version written: the deployed defaults")
            return
        if revert or reset:
            record = revert_config(store, where.deploy_threshold, _who(who), to_defaults=reset, now=now)
            shown = record_json(record, where.deploy_threshold)
            typer.echo(json.dumps(shown, ensure_ascii=False, indent=2) if as_json else format_record(shown))
            return
        score, source, notes = _quality(where, quality, quality_file)
        result = run_optimizer(DynamoTurnSource(where.dynamodb, where.sessions_table), store, where.deploy_threshold,
                               minutes=window_minutes, quality=score, quality_source=source, apply=apply,
                               who=_who(who), now=now, cooldown_minutes=cooldown_minutes, min_turns=min_turns)
    except (OptimizeCliError, NothingToRevert, ConfigConflict) as error:
        _fail(str(error))
    except (ClientError, BotoCoreError) as error:
        _fail(f"AWS error: {error}")
    result["where"] = where.description
    result["notes"] = notes + result["notes"]
    typer.echo(json.dumps(result, ensure_ascii=False, indent=2) if as_json else format_report(result))
