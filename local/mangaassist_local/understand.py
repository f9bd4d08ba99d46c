"""`mangaassist classify` and `mangaassist train-classifier`: the understanding tools on the command line."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from mangaassist.catalog.documents import Document
from mangaassist.turn import QueryEmbedding
from mangaassist.understand.classify import classify
from mangaassist.understand.task_model import TaskModel
from mangaassist_local import local_embeddings
from mangaassist_local.stack import LOCAL_PARAMETERS, REGION, REPO, ensure_task_model
from mangaassist_local.template import Template
from mangaassist_offline.documents import store_documents
from mangaassist_offline.ingest import enqueue
from mangaassist_offline.training import train_task_model

LOCAL_QUERY_PREFIX = LOCAL_PARAMETERS["EmbeddingQueryPrefix"]


def embedding_model_id() -> str:
    return Template(REPO / "template.yaml", REGION).parameters["EmbeddingModelId"]


def classify_lines(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """One JSON object per input line {"text": ...}: the classification, or an error for a bad line."""
    model_id = embedding_model_id()
    model = TaskModel.load(ensure_task_model(model_id, LOCAL_QUERY_PREFIX))
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str) or not item["text"].strip():
                raise ValueError('expected an object with a non-empty "text"')
        except ValueError as error:
            yield {"line": number, "error": str(error)}
            continue
        vector = local_embeddings.embed(LOCAL_QUERY_PREFIX + item["text"])
        result = classify(item["text"], QueryEmbedding(model_id=model_id, vector=vector), model)
        yield {"text": item["text"], **result.model_dump(mode="json", exclude={"elapsed_ms"})}


class IngestError(Exception):
    pass


def read_documents(path: Path) -> list[Document]:
    """Documents from a JSON array or JSON-lines file; every problem is reported with its place."""
    try:
        text = path.read_text("utf-8")
    except OSError as error:
        raise IngestError(f"cannot read {path}: {error.strerror}") from None
    stripped = text.lstrip()
    try:
        items = json.loads(text) if stripped.startswith("[") else \
            [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError as error:
        raise IngestError(f"{path} is neither a JSON array nor JSON lines: {error}") from None
    docs, problems = [], []
    for n, item in enumerate(items, 1):
        try:
            docs.append(Document.model_validate(item))
        except ValidationError as error:
            first = error.errors()[0]
            problems.append(f"document {n}: {'.'.join(map(str, first['loc']))}: {first['msg']}")
    if problems:
        raise IngestError("; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""))
    return docs


def ingest_documents(path: str | None, bundled: bool, endpoint: str, queue_url: str | None = None) -> int:
    """Send to the embeddings queue; nothing is sent unless every document is valid.

    With `queue_url` (a deployment's EmbeddingsQueue) the standard AWS credentials and region are used;
    otherwise the queue of the local stack at `endpoint`.
    """
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    docs = store_documents() if bundled else read_documents(Path(path or ""))
    try:
        if queue_url:
            return enqueue(boto3.client("sqs"), queue_url, docs)
        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="local",
                           aws_secret_access_key="local")  # noqa: S106 - the local stack takes any key
        template = Template(REPO / "template.yaml", REGION)
        local_url = sqs.get_queue_url(QueueName=template.physical_name("EmbeddingsQueue"))["QueueUrl"]
        return enqueue(sqs, local_url, docs)
    except (BotoCoreError, ClientError) as error:
        where = queue_url or f"the local stack at {endpoint} (start one with `mangaassist serve`)"
        raise IngestError(f"could not send to {where}: {error}") from None


def train_classifier(out: Path, bedrock: bool) -> TaskModel:
    """Train the classifier for the deployed embeddings (Titan via Bedrock, with AWS credentials) or the local ones."""
    if bedrock:
        from mangaassist.adapters import aws
        from mangaassist.adapters.embeddings import BedrockTitanEmbedder, EmbeddingConfig
        from mangaassist.settings import settings

        config = EmbeddingConfig.from_settings(settings())
        embedder = BedrockTitanEmbedder(aws.client("bedrock-runtime", aws.FAST), config)
        model = train_task_model(embedder.embed_query, embedder.model_id)
    else:
        model = train_task_model(lambda text: local_embeddings.embed(LOCAL_QUERY_PREFIX + text),
                                 os.environ.get("EMBEDDING_MODEL_ID") or embedding_model_id())
    model.save(out)
    return model
