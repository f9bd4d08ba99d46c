"""Provision the local AWS resources from template.yaml and seed the sample store data.

A resource missing from template.yaml is missing locally too: tables, queues
and the state machine are created from its declarations, and the functions'
environment comes from its Globals and Environment sections.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from mangaassist.adapters.opensearch import OpenSearchVectorStore, content_hash
from mangaassist.settings import Settings, settings
from mangaassist_local import local_embeddings
from mangaassist_local.aws_server import LocalAwsApp, LocalAwsServer
from mangaassist_local.faults import FaultPlan
from mangaassist_local.lambda_runtime import LambdaRuntime
from mangaassist_local.latency import Latency
from mangaassist_local.model_endpoint import ModelEndpoint
from mangaassist_local.model_server import ModelApp, RemoteModels
from mangaassist_local.opensearch import LocalOpenSearch
from mangaassist_local.process_runtime import BuildLayout, Layout, ProcessRuntime, SourceLayout
from mangaassist_local.redis_local import semantic_env
from mangaassist_local.seed import order_items, product_items
from mangaassist_local.template import Template
from mangaassist_offline.documents import store_documents
from mangaassist_offline.embedded_store import EmbeddedVectorStore
from mangaassist_offline.training import train_task_model, training_fingerprint

REPO = Path(__file__).resolve().parents[2]
REGION = "ap-northeast-1"
OPENSEARCH_INDEX = Settings.model_fields["vector_index"].default
# The local embeddings model is multilingual-e5-small: 384 dimensions, with e5's prefixes.
# The runtime configuration is read on every turn locally, so `mangaassist optimize --apply` changes the next turn.
LOCAL_PARAMETERS = {"EmbeddingDimensions": "384", "EmbeddingQueryPrefix": "query: ",
                    "EmbeddingPassagePrefix": "passage: ", "RuntimeConfigMaxAgeSeconds": "0"}
_TABLE_KEYS = ("AttributeDefinitions", "KeySchema", "BillingMode", "GlobalSecondaryIndexes", "LocalSecondaryIndexes")
_QUEUE_ATTRS = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds", "ReceiveMessageWaitTimeSeconds",
                "MaximumMessageSize")


@dataclass
class LocalAws:
    """The running AWS side of the local stack: server, handlers, model endpoint, resources."""

    template: Template
    server: LocalAwsServer
    runtime: LambdaRuntime | ProcessRuntime
    models: ModelEndpoint  # in-process mode only: in worker-process mode they run in model_server's process
    opensearch: LocalOpenSearch
    env: dict[str, str] = field(default_factory=dict)
    model_server: RemoteModels | None = None

    @property
    def endpoint(self) -> str:
        return self.server.endpoint

    def client(self, service: str, **kwargs: Any) -> Any:
        return boto3.client(service, region_name=REGION, endpoint_url=self.endpoint, **kwargs)

    @property
    def state_machine_arn(self) -> str:
        return self.env["STATE_MACHINE_ARN"]

    def variant_state_machine(self, suffix: str, parameters: dict[str, str]) -> str:
        """Another copy of the chat-turn machine, built with other template parameters
        (e.g. SageMakerImageUri set, so manga-specific turns go to the SageMaker model); returns its ARN."""
        variant = Template(self.template.path, REGION, overrides={**LOCAL_PARAMETERS, **parameters})
        name, definition = variant.state_machine(self.endpoint)
        created = self.client("stepfunctions").create_state_machine(
            name=f"{name}-{suffix}", definition=definition, type="EXPRESS",
            roleArn="arn:aws:iam::123456789012:role/mangaassist-local-states")
        return str(created["stateMachineArn"])

    def stop(self) -> None:
        self.server.stop()
        if isinstance(self.runtime, ProcessRuntime):
            self.runtime.stop()
        if self.model_server is not None:
            self.model_server.stop()


def _aws_env(endpoint: str, port: int) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_SESSION_TOKEN": "local",
        "MOTO_PORT": str(port),  # where moto's interpreter sends Lambda tasks
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


def _create_tables(template: Template, dynamodb: Any) -> None:
    for logical_id, res in template.of_type("AWS::DynamoDB::Table").items():
        props = template.resolve(res["Properties"])
        kwargs = {key: props[key] for key in _TABLE_KEYS if key in props}
        dynamodb.create_table(TableName=template.physical_name(logical_id), **kwargs)
        if ttl := props.get("TimeToLiveSpecification"):
            dynamodb.update_time_to_live(TableName=template.physical_name(logical_id), TimeToLiveSpecification=ttl)


def _create_queues(template: Template, sqs: Any, endpoint: str) -> None:
    queues = template.of_type("AWS::SQS::Queue")
    # Dead-letter queues first: the others' redrive policies point at them.
    ordered = sorted(queues.items(), key=lambda item: "RedrivePolicy" in item[1].get("Properties", {}))
    for logical_id, res in ordered:
        props = template.resolve(res.get("Properties", {}), endpoint)
        attributes = {key: str(props[key]) for key in _QUEUE_ATTRS if key in props}
        if redrive := props.get("RedrivePolicy"):
            attributes["RedrivePolicy"] = json.dumps(redrive)
        sqs.create_queue(QueueName=template.physical_name(logical_id), Attributes=attributes)


def _create_buckets(template: Template, s3: Any) -> None:
    for logical_id in template.of_type("AWS::S3::Bucket"):
        s3.create_bucket(Bucket=template.physical_name(logical_id),
                         CreateBucketConfiguration={"LocationConstraint": REGION})


def _seed_store(env: dict[str, str], dynamodb: Any) -> None:
    """The same items `mangaassist seed` puts into a deployed stack."""
    resource = boto3.resource("dynamodb", region_name=REGION, endpoint_url=env["AWS_ENDPOINT_URL"])
    for table, items in ((env["PRODUCTS_TABLE"], product_items()), (env["ORDERS_TABLE"], order_items())):
        with resource.Table(table).batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)


def ensure_task_model(embedding_model_id: str, query_prefix: str) -> Path:
    """The learned classifier for the local embeddings, trained from the repo's labelled set at first start
    (about 20 s) and cached by a fingerprint of the data and the embedding space."""
    path = cache_root() / f"task_model-{training_fingerprint(embedding_model_id, local_embeddings.DIMENSIONS)}.npz"
    if not path.exists():
        model = train_task_model(lambda text: local_embeddings.embed(query_prefix + text), embedding_model_id)
        partial = path.with_suffix(".tmp.npz")
        model.save(partial)
        partial.replace(path)  # atomic: a crash never leaves half a model behind
    return path


def ensure_store_index(passage_prefix: str) -> Path:
    """The embedded vector index of the bundled catalog and policies, kept in the cache between starts:
    only new or changed documents are embedded. Documents ingested at run time stay; an id the catalog no
    longer has is harmless (Retrieve only cites ids the catalog knows)."""
    docs = store_documents()
    space = hashlib.sha256(f"{local_embeddings.MODEL}|{passage_prefix}".encode()).hexdigest()[:12]
    path = cache_root() / f"index-{space}"
    store = EmbeddedVectorStore(path)
    indexed = store.hashes()
    missing = [doc for doc in docs if indexed.get(doc.id) != content_hash(doc)]
    if missing:
        store.upsert(missing, [local_embeddings.embed(passage_prefix + doc.text) for doc in missing])
    return path


def cache_root() -> Path:
    return Path(os.environ.get("MANGAASSIST_CACHE") or Path.home() / ".cache" / "mangaassist")


def start_local_aws(
    port: int = 0,
    template_path: Path = REPO / "template.yaml",
    faults: FaultPlan | None = None,
    latency: Latency | None = None,
    overrides: dict[str, str] | None = None,
    redis_url: str = "",
    build: BuildLayout | None = None,
    processes: bool = False,
) -> LocalAws:
    """Start the AWS side on `port` (0 = a free one), create the resources and set the environment.

    Without `build` the handlers run in this process from the source tree, and the environment is
    process-wide (os.environ). With `build` (a `sam build` output, see mangaassist_local.build) each function
    runs in worker processes that see only its built code, the built layer and the runtime's boto3, with its
    own environment from the template plus the stack's endpoints. `processes` runs the source tree that way too
    (each function in worker processes: every core used, timeouts enforced).
    """
    # The interpreter logs every caught task failure at ERROR; the reply frame already says what failed.
    logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
    overrides = {**LOCAL_PARAMETERS, **(overrides or {})}
    template = Template(template_path, REGION, overrides=overrides)
    layout: Layout | None = build or (SourceLayout(template, REPO / "shared") if processes else None)
    runtime: LambdaRuntime | ProcessRuntime = (LambdaRuntime(template) if layout is None
                                               else ProcessRuntime(template, layout, {}))
    models = ModelEndpoint(faults=faults or FaultPlan(), latency=latency or Latency())
    opensearch = LocalOpenSearch()
    app = LocalAwsApp(runtime, ModelApp(models, opensearch), REGION)
    server = LocalAwsServer(app, port=port)
    server.start()
    # moto's backends are process-wide: start every stack from a clean slate.
    urllib.request.urlopen(urllib.request.Request(f"{server.endpoint}/moto-api/reset", method="POST"))  # noqa: S310
    env = _aws_env(server.endpoint, server.port)
    os.environ.update(env)
    local_env = dict(env)  # what every function gets on top of its own template environment
    template_env = template.environment(server.endpoint)
    env.update(template_env)
    env.update({key: value for key, value in (overrides or {}).items() if key.isupper()})
    env["CLASSIFIER_MODEL_PATH"] = str(ensure_task_model(env["EMBEDDING_MODEL_ID"], env["EMBEDDING_QUERY_PREFIX"]))
    # No OpenSearch k-NN server can run here: the embedded index, built from the bundled catalog, answers
    # OpenSearch's API on this port, so Retrieve and the embedding worker use the deployed adapter.
    env["OPENSEARCH_ENDPOINT"] = server.endpoint
    index_name = env.get("VECTOR_INDEX") or OPENSEARCH_INDEX
    dimensions = int(env["EMBEDDING_DIMENSIONS"])
    store_path = ensure_store_index(env["EMBEDDING_PASSAGE_PREFIX"])
    model_server: RemoteModels | None = None
    # Set in both modes: os.environ outlives a stack, and a later stack in this process must not reach an old one's.
    env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = server.endpoint
    if layout is None:
        opensearch.attach(index_name, EmbeddedVectorStore(store_path),
                          OpenSearchVectorStore(None, index_name, dimensions).mapping())
    else:
        # Worker processes: the models and the search get a process of their own (see model_server), which loads
        # the index; the SDKs in the workers reach it directly, and the AWS port forwards whatever else comes.
        model_server = RemoteModels(index_name, store_path, dimensions, models.faults, models.latency)
        app.models = model_server
        env["AWS_ENDPOINT_URL_BEDROCK_RUNTIME"] = env["AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME"] = model_server.endpoint
        env["OPENSEARCH_ENDPOINT"] = model_server.endpoint
    # The template's ElastiCache endpoint does not exist here: use the local Redis, or none (in-process cache).
    env["REDIS_URL"] = redis_url
    env.setdefault("PROMPT_CANARY", f"mga-canary-{secrets.token_hex(8)}")  # one per local stack (reply.leaks)
    env.update(semantic_env(redis_url))  # the semantic cache, when that Redis has vector search
    os.environ.update(env)
    settings.cache_clear()  # in-process handlers read the environment just set
    if isinstance(runtime, ProcessRuntime):
        # Whatever the stack set or changed beyond the template's values (local endpoints, overrides, the
        # classifier, Redis, the local issuer...) reaches the worker processes too.
        local_env.update({key: value for key, value in env.items() if template_env.get(key) != value})
        runtime.base_env = local_env
    dynamodb = boto3.client("dynamodb", region_name=REGION, endpoint_url=server.endpoint)
    _create_tables(template, dynamodb)
    _create_queues(template, boto3.client("sqs", region_name=REGION, endpoint_url=server.endpoint), server.endpoint)
    _create_buckets(template, boto3.client("s3", region_name=REGION, endpoint_url=server.endpoint))
    name, definition = template.state_machine(server.endpoint)
    sfn = boto3.client("stepfunctions", region_name=REGION, endpoint_url=server.endpoint)
    created = sfn.create_state_machine(name=name, definition=definition, type="EXPRESS",
                                       roleArn="arn:aws:iam::123456789012:role/mangaassist-local-states")
    env["STATE_MACHINE_ARN"] = os.environ["STATE_MACHINE_ARN"] = created["stateMachineArn"]
    _seed_store(env, dynamodb)
    return LocalAws(template=template, server=server, runtime=runtime, models=models, opensearch=opensearch,
                    env=env, model_server=model_server)
