"""`mangaassist jobs`: submit analytics jobs and fetch their status and results.

A job is validated here with the same models the worker uses (mangaassist.jobs), recorded QUEUED in the jobs
table and sent to the analytics queue; the analytics worker runs it (`mangaassist serve` polls that queue
locally) and writes its status and its results (jobs/<id>/result.json and PNG charts in the results bucket).

Where: a running local stack (`--aws-url`, default http://127.0.0.1:4566; its names come from template.yaml),
or a deployed stack (`--stack-name NAME [--region R]`; its names come from the stack's outputs
AnalyticsJobsQueueUrl, JobsTableName and ResultsBucketName; your AWS credentials).

Exit codes: 0 done; 1 the job failed or is not finished (status --wait, result); 2 refused or not possible
(an unknown kind or a bad param, a job id in use, an unknown job, no stack, an AWS error).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

REGION = "ap-northeast-1"  # the local stack's region
OUTPUTS = {"queue": "AnalyticsJobsQueueUrl", "table": "JobsTableName", "bucket": "ResultsBucketName"}

jobs_app = typer.Typer(no_args_is_help=True, add_completion=False,
                       help="Analytics jobs: cost reports and capacity/TCO/break-even/strategy plans, run by the "
                            "analytics worker (results in the results bucket, status in the jobs table).")

AwsUrlOption = Annotated[str, typer.Option("--aws-url", help="A running local stack's AWS endpoint.")]
StackOption = Annotated[str | None, typer.Option("--stack-name", help="A deployed stack instead (its outputs name "
                                                                      "the queue, table and bucket).")]
RegionOption = Annotated[str | None, typer.Option(help="The deployed stack's region (default: your AWS "
                                                       "configuration's).")]
EndpointOption = Annotated[str | None, typer.Option(help="Another AWS endpoint for --stack-name (the tests aim it "
                                                         "at a local stack).", hidden=True)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
LOCAL_URL = "http://127.0.0.1:4566"


class JobsCliError(Exception):
    """One line for the user, exit 2."""


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"mangaassist jobs: {message}", err=True)
    raise typer.Exit(code)


# -- where the jobs live ------------------------------------------------------------------------------------------
@dataclass
class Target:
    where: str
    store: Any  # mangaassist.jobs.JobStore
    s3: Any
    bucket: str
    sqs: Any
    queue_url: str


def _describe(error: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {err.get('Message', '')}".rstrip(": ")
    return str(error)


def target(aws_url: str, stack_name: str | None, region: str | None, endpoint_url: str | None) -> Target:
    import boto3

    from mangaassist.jobs import JobStore

    if stack_name:
        from mangaassist_local.seed import SeedError, require_output, stack_outputs

        session = boto3.session.Session(region_name=region)
        if not session.region_name:
            raise JobsCliError("no AWS region: pass --region or set AWS_REGION")
        kwargs = {"endpoint_url": endpoint_url} if endpoint_url else {}
        try:
            outputs = stack_outputs(session.client("cloudformation", **kwargs), stack_name)
            names = {part: require_output(outputs, key, stack_name) for part, key in OUTPUTS.items()}
        except SeedError as error:
            raise JobsCliError(str(error)) from None
        where = f"stack {stack_name} ({session.region_name})"
    else:
        from mangaassist_local.invoke import local_aws_at
        from mangaassist_local.stack import REPO
        from mangaassist_local.template import Template

        aws_url = aws_url.rstrip("/")
        if not local_aws_at(aws_url):
            raise JobsCliError(f"no MangaAssist local stack answers at {aws_url} (start one with `mangaassist "
                               "serve`, or give --aws-url); for a deployed stack give --stack-name")
        template = Template(REPO / "template.yaml", REGION)
        names = {"queue": template.queue_url("AnalyticsJobsQueue", aws_url),
                 "table": template.physical_name("JobsTable"), "bucket": template.physical_name("ResultsBucket")}
        session = boto3.session.Session(region_name=REGION)
        kwargs = {"endpoint_url": aws_url}
        if session.get_credentials() is None:  # the local stack takes any credentials
            session = boto3.session.Session(region_name=REGION, aws_access_key_id="local",
                                            aws_secret_access_key="local")  # noqa: S106 - local dummy credentials
        where = f"the local stack at {aws_url}"
    return Target(where=where, store=JobStore(session.client("dynamodb", **kwargs), names["table"]),
                  s3=session.client("s3", **kwargs), bucket=names["bucket"], sqs=session.client("sqs", **kwargs),
                  queue_url=names["queue"])


def _target_or_exit(aws_url: str, stack_name: str | None, region: str | None, endpoint_url: str | None) -> Target:
    try:
        return target(aws_url, stack_name, region, endpoint_url)
    except JobsCliError as error:
        _fail(str(error))


# -- params ---------------------------------------------------------------------------------------------------------
def parse_params(pairs: list[str]) -> dict[str, Any]:
    """KEY=VALUE pairs: VALUE is JSON when it parses (numbers, true/false, lists, objects), else a string;
    a dotted KEY nests (a.b=1 -> {"a": {"b": 1}})."""
    params: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            raise JobsCliError(f"--param expects KEY=VALUE, got {pair!r}")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        *parents, leaf = key.strip().split(".")
        node = params
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise JobsCliError(f"--param {key}: {part} is already given a value")
            node = child
        if leaf in node:
            raise JobsCliError(f"--param {key} is given twice")
        node[leaf] = value
    return params


def params_help(kind: str) -> str:
    """The params a kind takes: one line each, with its description or default."""
    from pydantic import PydanticSchemaGenerationError, TypeAdapter
    from pydantic_core import PydanticSerializationError, PydanticUndefined

    from mangaassist.jobs.models import params_model

    lines = [f"params of {kind} (KEY=VALUE; a.b=VALUE for a field of a nested one):"]
    for name, info in params_model(kind).model_fields.items():
        if info.is_required():
            note = "required"
        else:
            default = info.get_default(call_default_factory=True)
            try:
                default = TypeAdapter(Any if info.annotation is None else info.annotation).dump_python(
                    default, mode="json")
            except (PydanticSchemaGenerationError, PydanticSerializationError):
                pass
            shown = json.dumps(default, default=str, ensure_ascii=False)
            note = "optional" if default is None or default is PydanticUndefined else \
                f"default {shown if len(shown) <= 60 else shown[:57] + '...'}"
        lines.append(f"  {name}: {info.description + '; ' if info.description else ''}{note}")
    return "\n".join(lines)


# -- commands -------------------------------------------------------------------------------------------------------
@jobs_app.command()
def submit(
    kind: Annotated[str, typer.Argument(help="cost-report, capacity-plan, tco, break-even, strategies, "
                                             "regression-run, load-test or optimize.")],
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE (repeatable; VALUE is JSON "
                                                                          "when it parses; a.b=1 nests).")] = None,
    job_id: Annotated[str | None, typer.Option("--job-id", help="Your id for the job (default: generated).")] = None,
    as_json: JsonOption = False,
    aws_url: AwsUrlOption = LOCAL_URL,
    stack_name: StackOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Validate a job, record it QUEUED and send it to the analytics queue; prints its job id."""
    from botocore.exceptions import BotoCoreError, ClientError

    from mangaassist.jobs import JOB_KINDS, JobIdTaken, JobRejected, build_job

    try:
        params = parse_params(param or [])
    except JobsCliError as error:
        _fail(str(error))
    try:
        job = build_job(kind, params, job_id)
    except JobRejected as error:
        hint = f"\n{params_help(kind)}" if kind in JOB_KINDS else ""
        _fail(f"{kind}: {error}{hint}")
    where = _target_or_exit(aws_url, stack_name, region, endpoint_url)
    try:
        where.store.submit(job.job_id, kind, job.params_json())
    except JobIdTaken as taken:
        hint = f"; its results: mangaassist jobs result {job.job_id}" if taken.record.status == "SUCCEEDED" else ""
        _fail(f"{taken}: choose another --job-id{hint}")
    except (BotoCoreError, ClientError) as error:
        _fail(f"could not record the job in {where.where}: {_describe(error)}")
    try:
        where.sqs.send_message(QueueUrl=where.queue_url, MessageBody=job.message())
    except (BotoCoreError, ClientError) as error:
        reason = f"could not be sent to the analytics queue: {_describe(error)}"
        try:
            where.store.reject(job.job_id, reason, kind)
        except (BotoCoreError, ClientError):
            pass
        _fail(f"job {job.job_id} {reason}")
    if as_json:
        typer.echo(json.dumps({"job_id": job.job_id, "kind": kind, "status": "QUEUED",
                               "params": json.loads(job.params_json()), "queue_url": where.queue_url}, indent=2))
    else:
        typer.echo(job.job_id)
        typer.echo(f"queued in {where.where}; follow it with: mangaassist jobs status {job.job_id} --wait", err=True)


def _record(where: Target, job_id: str) -> Any:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        record = where.store.get(job_id)
    except (BotoCoreError, ClientError) as error:
        _fail(f"could not read the jobs table of {where.where}: {_describe(error)}")
    if record is None:
        _fail(f"no job {job_id} in {where.where} (job ids are kept 90 days; see `mangaassist jobs list`)")
    return record


def _status_dict(record: Any, bucket: str) -> dict[str, Any]:
    return {**record.as_dict(), "results": [f"s3://{bucket}/{key}" for key in record.result_keys]}


def format_status(record: Any, bucket: str) -> str:
    rows = [("job", record.job_id), ("kind", record.kind), ("status", record.status.value),
            ("params", json.dumps(record.params, ensure_ascii=False, sort_keys=True)),
            ("submitted", record.submitted_at), ("started", record.started_at), ("finished", record.finished_at),
            ("attempts", str(record.attempts)), ("summary", record.summary), ("error", record.error)]
    lines = [f"{name:<10} {value}" for name, value in rows if value]
    for n, key in enumerate(record.result_keys):
        lines.append(f"{'results' if n == 0 else '':<10} s3://{bucket}/{key}")
    return "\n".join(lines)


@jobs_app.command()
def status(
    job_id: Annotated[str, typer.Argument(help="The job id submit printed.")],
    wait: Annotated[bool, typer.Option("--wait", help="Wait until it SUCCEEDED or FAILED (exit 1 if it failed "
                                                      "or is still not done after --timeout).")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds --wait waits.")] = 600.0,
    as_json: JsonOption = False,
    aws_url: AwsUrlOption = LOCAL_URL,
    stack_name: StackOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """A job's status: QUEUED, RUNNING, SUCCEEDED (with its result keys) or FAILED (with the reason)."""
    where = _target_or_exit(aws_url, stack_name, region, endpoint_url)
    record = _record(where, job_id)
    deadline = time.monotonic() + timeout
    while wait and record.status.value in ("QUEUED", "RUNNING") and time.monotonic() < deadline:
        time.sleep(1.0)
        record = _record(where, job_id)
    typer.echo(json.dumps(_status_dict(record, where.bucket), ensure_ascii=False, indent=2) if as_json
               else format_status(record, where.bucket))
    if wait and record.status.value != "SUCCEEDED":
        raise typer.Exit(1)


@jobs_app.command()
def result(
    job_id: Annotated[str, typer.Argument(help="A SUCCEEDED job's id.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Directory for result.json and the charts "
                                                                       "(default: ./<job id>).")] = None,
    as_json: JsonOption = False,
    aws_url: AwsUrlOption = LOCAL_URL,
    stack_name: StackOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """Download a SUCCEEDED job's result.json and PNG charts (exit 1 if the job has not succeeded)."""
    from botocore.exceptions import BotoCoreError, ClientError

    where = _target_or_exit(aws_url, stack_name, region, endpoint_url)
    record = _record(where, job_id)
    if record.status.value != "SUCCEEDED":
        detail = f": {record.error}" if record.error else " (try `mangaassist jobs status ID --wait`)"
        _fail(f"job {job_id} is {record.status.value}, it has no results{detail}", code=1)
    directory = output if output is not None else Path(job_id)
    directory.mkdir(parents=True, exist_ok=True)
    files = []
    for key in record.result_keys:
        path = directory / key.rsplit("/", 1)[-1]
        try:
            body = where.s3.get_object(Bucket=where.bucket, Key=key)["Body"].read()
        except (BotoCoreError, ClientError) as error:
            _fail(f"could not read s3://{where.bucket}/{key}: {_describe(error)}")
        path.write_bytes(body)
        files.append(str(path))
    if as_json:
        typer.echo(json.dumps({"job_id": job_id, "kind": record.kind, "summary": record.summary, "files": files},
                              ensure_ascii=False, indent=2))
    else:
        if record.summary:
            typer.echo(record.summary)
        typer.echo("\n".join(f"wrote {path}" for path in files))


@jobs_app.command("list")
def list_jobs(
    limit: Annotated[int, typer.Option(help="How many (newest first).", min=1)] = 20,
    status_filter: Annotated[str | None, typer.Option("--status", help="Only QUEUED, RUNNING, SUCCEEDED or "
                                                                       "FAILED.")] = None,
    as_json: JsonOption = False,
    aws_url: AwsUrlOption = LOCAL_URL,
    stack_name: StackOption = None,
    region: RegionOption = None,
    endpoint_url: EndpointOption = None,
) -> None:
    """The most recently submitted jobs."""
    from botocore.exceptions import BotoCoreError, ClientError

    wanted = status_filter.upper() if status_filter else None
    if wanted not in (None, "QUEUED", "RUNNING", "SUCCEEDED", "FAILED"):
        _fail(f"--status {status_filter}: expected QUEUED, RUNNING, SUCCEEDED or FAILED")
    where = _target_or_exit(aws_url, stack_name, region, endpoint_url)
    try:
        records = where.store.recent(limit=sys.maxsize)
    except (BotoCoreError, ClientError) as error:
        _fail(f"could not read the jobs table of {where.where}: {_describe(error)}")
    records = [r for r in records if wanted is None or r.status.value == wanted][:limit]
    if as_json:
        typer.echo(json.dumps([_status_dict(r, where.bucket) for r in records], ensure_ascii=False, indent=2))
        return
    if not records:
        typer.echo(f"no jobs in {where.where}")
        return
    typer.echo(format_table(records))


def format_table(records: list[Any]) -> str:
    rows = [("JOB ID", "KIND", "STATUS", "SUBMITTED (UTC)", "DETAIL")]
    for r in records:
        detail = r.error if r.status.value == "FAILED" else r.summary
        rows.append((r.job_id, r.kind, r.status.value, r.submitted_at.replace("T", " ")[:19],
                     detail if len(detail) <= 70 else detail[:67] + "..."))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join([*(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])), row[4]]).rstrip()
                     for row in rows)
