"""The `mangaassist` command: run the local stack, chat with it."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from mangaassist_local.faults import FaultSpecError, parse_faults
from mangaassist_local.identity_cli import IdentityCliError, fetch_token, forget, token, with_token
from mangaassist_local.jobs_cli import jobs_app
from mangaassist_local.loadtest_cli import loadtest
from mangaassist_local.optimize_cli import optimize
from mangaassist_local.plan_cli import plan_app
from mangaassist_local.regress_cli import regress
from mangaassist_local.validate_cli import validate as validate_answers

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="MangaAssist: the manga store's chat assistant, run locally (no AWS account, no Docker).")
app.add_typer(jobs_app, name="jobs")
app.add_typer(plan_app, name="plan")
app.command("regress")(regress)
app.command("loadtest")(loadtest)
app.command("optimize")(optimize)
app.command("token")(token)
app.command("forget")(forget)
app.command("validate")(validate_answers)

FaultOption = Annotated[list[str] | None, typer.Option(
    "--fault", help="Inject a model fault: TARGET=KIND[@RATE], TARGET in haiku|sonnet|sagemaker|embeddings, "
                    "KIND in throttle|error|timeout|pii|slow:MS. Repeatable; also read from MANGAASSIST_FAULTS.")]


LatencyOption = Annotated[str | None, typer.Option(
    "--latency", help="Model latency: zero (default), seed (the seeds' measured profiles) or TIER=MS[,TIER=MS].")]


def _latency(spec: str | None) -> Any:
    from mangaassist_local.latency import Latency, LatencySpecError

    try:
        return Latency.parse(spec)
    except LatencySpecError as error:
        raise typer.BadParameter(str(error), param_hint="--latency") from None


def _faults(specs: list[str] | None) -> list[Any]:
    try:
        return parse_faults(os.environ.get("MANGAASSIST_FAULTS")) + parse_faults(specs or [])
    except FaultSpecError as error:
        raise typer.BadParameter(str(error), param_hint="--fault") from None


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Port of the web page, WebSocket and @connections API.")] = 8080,
    aws_port: Annotated[int, typer.Option(help="Port of the local AWS APIs and model endpoint.")] = 4566,
    fault: FaultOption = None,
    latency: LatencyOption = None,
    from_build: Annotated[Path | None, typer.Option(
        "--from-build", help="Run the functions from a `sam build` output (default .aws-sam/build), each in "
                             "Lambda-like worker processes that see only the built code, the built layer and "
                             "the runtime's boto3.")] = None,
    in_process: Annotated[bool, typer.Option(
        "--in-process", help="Run the source tree's handlers in threads of this process (no cold starts, one core, "
                             "timeouts not enforced) instead of Lambda-like worker processes.")] = False,
    parameter_overrides: Annotated[list[str] | None, typer.Option(
        "--parameter-overrides", help="A template parameter for this stack, NAME=VALUE (repeatable), as "
                                      "`sam deploy --parameter-overrides`; e.g. ConnectionRatePerSecond=0 to "
                                      "lift the per-connection rate limit for a load test.")] = None,
    warm_containers: Annotated[str, typer.Option(
        "--warm-containers", help="EAGER: start one environment per function before serving (as `sam local "
                                  "start-api --warm-containers EAGER`); LAZY: every first environment starts cold.",
        case_sensitive=False)] = "EAGER",
) -> None:
    """Start the whole stack and serve until Ctrl-C."""
    from mangaassist_local.runner import start_stack

    if warm_containers.upper() not in ("EAGER", "LAZY"):
        raise typer.BadParameter("EAGER or LAZY", param_hint="--warm-containers")
    overrides = _parameter_overrides(parameter_overrides or [])
    faults = _faults(fault)
    delays = _latency(latency)
    build = _build_layout(from_build)
    for busy in (port, aws_port):
        if not _port_free(busy):
            typer.echo(f"mangaassist: port {busy} is in use (another stack? try --port/--aws-port)", err=True)
            raise typer.Exit(1)
    try:
        stack = start_stack(port=port, aws_port=aws_port, faults=faults, latency=delays, build=build,
                            processes=not in_process, warm=warm_containers.upper() == "EAGER",
                            overrides=overrides)
    except OSError as error:
        typer.echo(f"mangaassist: cannot start: {error} (is another stack running? try --port/--aws-port)", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"MangaAssist local stack is ready\n"
               f"  chat page      {stack.gateway.url}/\n"
               f"  WebSocket      {stack.gateway.ws_url}\n"
               f"  health         {stack.gateway.url}/health\n"
               f"  AWS endpoint   {stack.aws.endpoint}  (moto + Step Functions + local Bedrock/SageMaker)\n"
               f"  cache          {stack.redis.describe()}\n"
               f"  faults         {', '.join(map(str, faults)) or 'none'}\n"
               f"  model latency  {latency or 'zero'}\n"
               f"  functions      {_functions_line(build, in_process, warm_containers)}\n"
               "Ctrl-C stops it.")
    # SIGTERM stops the stack as Ctrl-C does. (A handler that set an Event deadlocked: it runs on the main thread,
    # which can be holding that Event's lock inside wait(), and the stack never stopped.)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()


def _parameter_overrides(specs: list[str]) -> dict[str, str]:
    """NAME=VALUE pairs naming parameters of template.yaml."""
    from mangaassist_local.template import Template

    known = Template(Path(__file__).resolve().parents[2] / "template.yaml", "ap-northeast-1").parameters
    overrides: dict[str, str] = {}
    for spec in specs:
        name, sep, value = spec.partition("=")
        if not sep or name not in known:
            raise typer.BadParameter(f"{spec!r}: give NAME=VALUE with NAME a parameter of template.yaml",
                                     param_hint="--parameter-overrides")
        overrides[name] = value
    return overrides


def _functions_line(build: Any, in_process: bool, warm_containers: str) -> str:
    where = f"built: {build.build_dir}" if build else "from the source tree"
    if build is None and in_process:
        return f"{where}, in-process"
    return f"{where}, in worker processes ({warm_containers.upper()} warm environments)"


def _build_layout(directory: Path | None) -> Any:
    """The host-runnable layout of a `sam build` output, or None to run from the source tree."""
    if directory is None:
        return None
    from mangaassist_local.build import BuildError, host_build

    try:
        return host_build(directory)
    except BuildError as error:
        typer.echo(f"mangaassist: {error}", err=True)
        raise typer.Exit(2) from None


@app.command("build-host")
def build_host(
    build_dir: Annotated[Path, typer.Argument(help="The `sam build` output.")] = Path(".aws-sam/build"),
) -> None:
    """Build the layer of a `sam build` output a second time for this machine (same files, same lock), so
    `serve --from-build` can run it; `make build` does this after `sam build`."""
    layout = _build_layout(build_dir)
    typer.echo(f"host layer   {layout.layer_dir}\nruntime SDK  {layout.runtime_dir}")


def _port_free(port: int) -> bool:
    """Free for a server: SO_REUSEADDR as the servers set it, so the TIME_WAIT a stopped stack leaves is no
    reason to refuse a restart on the same ports."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _running(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as response:  # noqa: S310 - our own local URL
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _set_faults(aws_url: str, specs: list[str]) -> list[str]:
    """Replace a running stack's faults; returns the ones in force before."""
    request = urllib.request.Request(  # noqa: S310 - our own local URL
        f"{aws_url}/_mangaassist/faults", data=json.dumps({"faults": specs}).encode(), method="PUT",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=2) as response:  # noqa: S310 - our own local URL
        return json.loads(response.read())["previous"]


def _send(ws_url: str, frame: dict[str, Any], timeout: float) -> dict[str, Any]:
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    try:
        with connect(ws_url, open_timeout=5) as socket:
            socket.send(json.dumps(frame, ensure_ascii=False))
            return json.loads(socket.recv(timeout=timeout))
    except InvalidStatus as error:  # the $connect authorizer said no: a bad, expired or foreign token
        return {"type": "error", "code": "HANDSHAKE_REFUSED",
                "message": f"the stack refused the connection (HTTP {error.response.status_code}): "
                           "a bad or expired token? get a new one with `mangaassist token`"}


@app.command()
def chat(
    message: Annotated[str, typer.Argument(help="What the customer writes.")],
    session: Annotated[str | None, typer.Option(help="Session id (history is kept per session).")] = None,
    locale: Annotated[str | None, typer.Option(help="ja or en (default: detected from the message).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole answer frame.")] = False,
    url: Annotated[str, typer.Option(help="A running stack's gateway.")] = "http://127.0.0.1:8080",
    aws_port: Annotated[int, typer.Option(help="A running stack's AWS port (for --fault).")] = 4566,
    fault: FaultOption = None,
    latency: LatencyOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the answer.")] = 30.0,
    token: Annotated[str | None, typer.Option(help="Chat signed in with this ID token (`mangaassist token`).")] = None,
    customer: Annotated[str | None, typer.Option(help="Chat signed in as this sample customer, e.g. C-1043.")] = None,
) -> None:
    """One chat turn through a running local stack, or through an ephemeral one; a guest unless signed in."""
    if locale not in (None, "ja", "en"):
        raise typer.BadParameter("expected ja or en", param_hint="--locale")
    if token and customer:
        raise typer.BadParameter("give --token or --customer, not both", param_hint="--customer")
    faults = _faults(fault)
    delays = _latency(latency)
    frame: dict[str, Any] = {"action": "sendMessage", "sessionId": session or f"cli-{uuid.uuid4().hex[:8]}",
                             "message": message}
    if locale:
        frame["locale"] = locale
    if _running(url):
        ws_url = url.replace("http://", "ws://").replace("https://", "wss://") + "/ws"
        aws_url = f"http://127.0.0.1:{aws_port}"
        if customer:
            try:
                token = fetch_token(url, customer)["token"]
            except IdentityCliError as error:
                typer.echo(f"error: {error}", err=True)
                raise typer.Exit(2) from None
        previous = _set_faults(aws_url, [str(f) for f in faults]) if faults else None
        try:
            reply = _send(with_token(ws_url, token), frame, timeout)
        finally:
            if previous is not None:
                _set_faults(aws_url, previous)
    else:
        from mangaassist_local.runner import start_stack

        typer.echo("(no stack running: starting an ephemeral one)", err=True)
        stack = start_stack(faults=faults, latency=delays)
        try:
            if customer and stack.gateway.issuer is not None:
                token = stack.gateway.issuer.sign(customer)
            reply = _send(with_token(stack.gateway.ws_url, token), frame, timeout)
        finally:
            stack.stop()
    if as_json:
        typer.echo(json.dumps(reply, ensure_ascii=False, indent=2))
    elif reply.get("type") == "error":
        typer.echo(f"error {reply.get('code')}: {reply.get('message')}", err=True)
    else:
        typer.echo(reply.get("text", ""))
    if reply.get("type") == "error":
        raise typer.Exit(2)


@app.command()
def invoke(
    function: Annotated[str, typer.Argument(help="Logical id of a function in template.yaml, e.g. ClassifyFunction.")],
    event: Annotated[str, typer.Option("--event", "-e", help="The event: a JSON file (see events/), - for stdin.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print only the function's result.")] = False,
    url: Annotated[str, typer.Option(help="A running stack's gateway.")] = "http://127.0.0.1:8080",
    aws_url: Annotated[str, typer.Option(help="A running stack's AWS endpoint.")] = "http://127.0.0.1:4566",
) -> None:
    """Run one function of template.yaml on an event, like `sam local invoke` without Docker: through a running
    local stack's Lambda API, or an ephemeral stack. Exit 1 on a function error, 2 if it could not be invoked."""
    from mangaassist_local.invoke import main as invoke_main

    raise typer.Exit(invoke_main(function, event, as_json, url, aws_url))


@app.command()
def routes(
    as_json: Annotated[bool, typer.Option("--json", help="JSON lines out (the default; kept for symmetry).")] = True,
    sagemaker_endpoint: Annotated[str, typer.Option(help="Pretend this SageMaker endpoint is configured.")] = "",
    provisioned_arn: Annotated[str, typer.Option(help="Pretend provisioned Sonnet is configured.")] = "",
    daily_budget: Annotated[str | None, typer.Option(help="Daily budget in USD (default: template's).")] = None,
) -> None:
    """Routing decisions for JSON lines {"text", "at"?, "spent_usd"?} on stdin, without calling a model."""
    from mangaassist_local.routes import route_lines

    for line in route_lines(sys.stdin, sagemaker_endpoint=sagemaker_endpoint, provisioned_arn=provisioned_arn,
                            daily_budget=daily_budget):
        typer.echo(json.dumps(line, ensure_ascii=False))


@app.command()
def ingest(
    path: Annotated[str | None, typer.Argument(help="A JSON array or JSON-lines file of documents "
                                                     "{id, kind, title, text, fields}.")] = None,
    store: Annotated[bool, typer.Option("--store", help="Ingest the bundled catalog and policies.")] = False,
    aws_port: Annotated[int, typer.Option(help="The running local stack's AWS port.")] = 4566,
    queue_url: Annotated[str | None, typer.Option(help="A deployed stack's EmbeddingsQueue URL (the stack's "
                                                        "outputs); uses your AWS credentials.")] = None,
) -> None:
    """Send documents to the embeddings queue (a running local stack's, or a deployed one's with --queue-url);
    the embedding worker embeds and indexes them."""
    from mangaassist_local.understand import IngestError, ingest_documents

    if (path is None) == (not store):
        raise typer.BadParameter("give a PATH or --store (not both)")
    try:
        sent = ingest_documents(path, store, f"http://127.0.0.1:{aws_port}", queue_url)
    except IngestError as error:
        typer.echo(f"mangaassist ingest: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"sent {sent} documents to the embeddings queue")


@app.command()
def prepare() -> None:
    """Build what the local stack needs from the repo: the task classifier and the catalog's vector index
    (cached by content; a no-op when nothing changed)."""
    import time

    from mangaassist_local.stack import LOCAL_PARAMETERS, ensure_store_index, ensure_task_model
    from mangaassist_local.understand import embedding_model_id

    started = time.perf_counter()
    model = ensure_task_model(embedding_model_id(), LOCAL_PARAMETERS["EmbeddingQueryPrefix"])
    typer.echo(f"task classifier  {model}  ({time.perf_counter() - started:.1f} s)")
    started = time.perf_counter()
    index = ensure_store_index(LOCAL_PARAMETERS["EmbeddingPassagePrefix"])
    typer.echo(f"vector index     {index}  ({time.perf_counter() - started:.1f} s)")


@app.command("classify")
def classify_command() -> None:
    """Classify JSON lines {"text": ...} from stdin: task, language, complexity, manga_specific, confidence,
    entities. Uses the local embeddings and the learned classifier (trained from the repo on first use)."""
    from mangaassist_local.understand import classify_lines

    for line in classify_lines(sys.stdin):
        typer.echo(json.dumps(line, ensure_ascii=False))


@app.command("train-classifier")
def train_classifier_command(
    out: Annotated[str, typer.Option(help="Where to write the model (the layer ships the default path).")] =
        "shared/mangaassist/data/models/task_model.npz",
    bedrock: Annotated[bool, typer.Option(help="Embed with Bedrock (EMBEDDING_MODEL_ID, AWS credentials) for a "
                                               "deployment, instead of the local e5 model.")] = False,
) -> None:
    """Train the task classifier from the repo's labelled questions in the deployment's embedding space."""
    from pathlib import Path

    from mangaassist_local.understand import train_classifier

    model = train_classifier(Path(out), bedrock)
    typer.echo(f"wrote {out}: {len(model.labels)} tasks, {model.dimensions} dimensions of {model.embedding_model_id}")


RegionOption = Annotated[str | None, typer.Option(help="AWS region (default: your AWS configuration's).")]
EndpointOption = Annotated[str | None, typer.Option(help="Another AWS endpoint (the tests aim it at a local stack).")]


@app.command()
def seed(
    stack_name: Annotated[str, typer.Option(help="The deployed stack (sam deploy's stack name).")],
    region: RegionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    endpoint_url: EndpointOption = None,
) -> None:
    """Load the catalog and the sample orders into a deployed stack's tables and send the bundled catalog and
    policies to its embeddings queue (names from the stack's outputs; safe to re-run)."""
    from mangaassist_local.seed import ProgressPrinter, SeedError, clients, format_report, seed_stack

    try:
        report = seed_stack(*clients(region, endpoint_url), stack_name, ProgressPrinter(sys.stderr))
    except SeedError as error:
        typer.echo(f"mangaassist seed: {error}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report.as_dict(), indent=2) if as_json else format_report(report))


@app.command()
def smoke(
    ws_url: Annotated[str | None, typer.Option(help="The WebSocket URL (wss://...).")] = None,
    stack_name: Annotated[str | None, typer.Option(help="Or a deployed stack: its WebSocketUrl output.")] = None,
    region: RegionOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the checks as JSON.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for each reply.")] = 30.0,
    endpoint_url: EndpointOption = None,
) -> None:
    """Post-deploy smoke test over the WebSocket: an English and a Japanese turn, a malformed frame, and a turn
    after it. Exits 0 only if every check passes."""
    from mangaassist_local.seed import SeedError
    from mangaassist_local.smoke import failure_summary, format_checks, passed, run_smoke, stack_websocket_url

    if (ws_url is None) == (stack_name is None):
        raise typer.BadParameter("give --ws-url or --stack-name (not both)")
    try:
        url = ws_url or stack_websocket_url(stack_name or "", region, endpoint_url)
    except SeedError as error:
        typer.echo(f"mangaassist smoke: {error}", err=True)
        raise typer.Exit(2) from None
    checks = run_smoke(url, timeout)
    typer.echo(json.dumps([c.as_dict() for c in checks], ensure_ascii=False, indent=2) if as_json
               else format_checks(checks))
    if not passed(checks):
        typer.echo(f"mangaassist smoke: FAILED: {failure_summary(checks)}", err=True)
        raise typer.Exit(1)


def main() -> None:
    # `--from-build` may be given without a directory: then it means the default build output.
    args = sys.argv[1:]
    for n, arg in enumerate(args):
        if arg == "--from-build" and (n + 1 == len(args) or args[n + 1].startswith("-")):
            args.insert(n + 1, ".aws-sam/build")
            break
    sys.exit(app(args))


if __name__ == "__main__":
    main()
