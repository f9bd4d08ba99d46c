"""The model endpoint and the OpenSearch stand-in as one WSGI app, in the stack's process or in a process of its own.

In AWS, Bedrock, SageMaker and OpenSearch are services apart from Step Functions, DynamoDB and SQS. With the
functions in worker processes the local stack runs them apart too: the embeddings, the local model's answers
and the searches then use a core of their own instead of the one process that holds moto's interpreter and
services (that process was the stack's ceiling under load). The workers reach it through the endpoints the SDKs
take from the environment (AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME,
OPENSEARCH_ENDPOINT); the local AWS port still answers those requests, and the fault switch, by forwarding them.

    python -m mangaassist_local.model_server --index NAME --store DIR [--dimensions N] [--faults JSON] [--latency JSON]

prints its port on stdout once it serves, and stops when its stdin closes (the stack stopped or died).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import cheroot.wsgi
import urllib3
from werkzeug.wrappers import Request, Response

from mangaassist_local.faults import FaultPlan, parse_faults
from mangaassist_local.latency import Latency
from mangaassist_local.model_endpoint import ModelEndpoint
from mangaassist_local.opensearch import LocalOpenSearch
from mangaassist_local.process_tuning import responsive_threads

FAULTS_PATH = "/_mangaassist/faults"
_CONVERSE = re.compile(r"^/model/(?P<model>.+)/(?P<op>converse|invoke)$")
_SAGEMAKER = re.compile(r"^/endpoints/(?P<name>[^/]+)/invocations$")
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
# Requests that wait (seed latency, a slow fault) hold a thread each; the pool is fixed, so sized generously.
THREADS = 512


def serves(environ: dict[str, Any]) -> bool:
    """Whether a request is for the models, the OpenSearch stand-in or the fault switch."""
    path = environ.get("PATH_INFO", "")
    if path == FAULTS_PATH:
        return True
    scope = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope is not None and scope.group(2) == "aoss":  # OpenSearch Serverless, signed by opensearch-py
        return True
    return environ.get("REQUEST_METHOD") == "POST" and bool(_CONVERSE.match(path) or _SAGEMAKER.match(path))


class ModelApp:
    """bedrock-runtime Converse/InvokeModel, sagemaker-runtime InvokeEndpoint, OpenSearch, and the fault switch."""

    def __init__(self, models: ModelEndpoint, opensearch: LocalOpenSearch) -> None:
        self.models = models
        self.opensearch = opensearch

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.respond(Request(environ))(environ, start_response)

    def respond(self, request: Request) -> Response:
        path = request.path
        if path == FAULTS_PATH:
            return self._faults(request)
        scope = CREDENTIAL_SCOPE.search(request.headers.get("Authorization", ""))
        if scope is not None and scope.group(2) == "aoss":
            return self.opensearch(request)
        if request.method == "POST":
            if match := _CONVERSE.match(path):
                model = unquote(match["model"])  # an ARN's "/" arrives %-encoded
                if match["op"] == "converse":
                    return self.models.converse(request, model)
                return self.models.invoke_model(request, model)
            if match := _SAGEMAKER.match(path):
                return self.models.invoke_endpoint(request, unquote(match["name"]))
        return Response(json.dumps({"message": f"{request.method} {path} is not served by the local model "
                                               "endpoint"}), status=404, mimetype="application/json")

    def _faults(self, request: Request) -> Response:
        """GET the model faults in force, PUT {"faults": [...]} to replace them (the CLI's --fault)."""
        previous = [str(fault) for fault in self.models.faults.faults]
        if request.method == "PUT":
            try:
                specs = request.get_json(force=True)["faults"]
                self.models.faults.set(parse_faults(specs))
            except (KeyError, TypeError, ValueError) as error:
                return Response(json.dumps({"message": str(error)}), status=400, mimetype="application/json")
        return Response(json.dumps({"previous": previous}), mimetype="application/json")


class RemoteModels:
    """The model server's process, seen from the local AWS port: starts it, forwards to it, stops it."""

    _HOP_BY_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "host"})

    def __init__(self, index: str, store: Path, dimensions: int, faults: FaultPlan, latency: Latency) -> None:
        command = [sys.executable, "-m", "mangaassist_local.model_server", "--index", index, "--store", str(store),
                   "--dimensions", str(dimensions),
                   "--faults", json.dumps([str(fault) for fault in faults.faults]),
                   "--latency", json.dumps(latency.profiles)]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)  # noqa: S603
        assert self._process.stdout is not None
        line = self._process.stdout.readline()  # the port, once it serves
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f"the local model server did not start (exit {self._process.poll()})")
        self.endpoint = f"http://127.0.0.1:{int(line)}"
        self._http = urllib3.PoolManager(maxsize=64, retries=False)

    def respond(self, request: Request) -> Response:
        """The model server's answer to a request that reached the AWS port."""
        headers = {key: value for key, value in request.headers.items() if key.lower() not in self._HOP_BY_HOP}
        url = f"{self.endpoint}{request.full_path if request.query_string else request.path}"
        answer = self._http.request(request.method, url, body=request.get_data(), headers=headers,
                                    redirect=False, timeout=urllib3.Timeout(connect=5, read=None))
        kept = [(key, value) for key, value in answer.headers.items() if key.lower() not in self._HOP_BY_HOP]
        return Response(answer.data, status=answer.status, headers=kept)

    def exited(self) -> bool:
        return self._process.poll() is not None

    def stop(self) -> None:
        if self._process.stdin is not None and not self._process.stdin.closed:
            self._process.stdin.close()  # its signal to stop
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def main() -> None:
    from mangaassist.adapters.opensearch import OpenSearchVectorStore
    from mangaassist_local import local_embeddings
    from mangaassist_offline.embedded_store import EmbeddedVectorStore

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--store", required=True, type=Path)
    parser.add_argument("--faults", default="[]", help="JSON list of fault specs, as --fault takes them")
    parser.add_argument("--latency", default="{}", help="JSON {tier: [p50, p99]}")
    parser.add_argument("--dimensions", type=int, default=384, help="the index mapping's vector dimensions")
    args = parser.parse_args()
    models = ModelEndpoint(faults=FaultPlan(parse_faults(json.loads(args.faults))),
                           latency=Latency({tier: (p50, p99) for tier, (p50, p99) in json.loads(args.latency).items()}))
    opensearch = LocalOpenSearch()
    opensearch.attach(args.index, EmbeddedVectorStore(args.store),
                      OpenSearchVectorStore(None, args.index, args.dimensions).mapping())
    local_embeddings.embed("query: warm")  # load the model before the first request, not during it
    responsive_threads()  # its request threads hand off as the serve process's do
    server = cheroot.wsgi.Server(("127.0.0.1", 0), ModelApp(models, opensearch), numthreads=THREADS, timeout=60,
                                 request_queue_size=128, server_name="mangaassist-local-models")
    server.keep_alive_conn_limit = 1024  # cheroot's default closes all but 10 kept-alive connections
    server.prepare()
    threading.Thread(target=server.serve, name="local-models", daemon=True).start()
    print(server.bind_addr[1], flush=True)
    try:
        sys.stdin.read()  # until the stack closes it, or dies
    except KeyboardInterrupt:
        pass  # Ctrl-C reaches the whole process group; the stack stops this server as it stops
    finally:
        server.stop()


if __name__ == "__main__":
    main()
