"""The Embedder port and its adapter: Amazon Titan Text Embeddings v2 through bedrock-runtime InvokeModel.

The local stack answers the same InvokeModel call with multilingual-e5-small, so
this adapter runs unchanged there. Dimensions and the query/passage prefixes
(e5 wants "query: " / "passage: "; Titan wants none) are configuration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from mangaassist.errors import DependencyThrottledError, MangaAssistError
from mangaassist.settings import Settings


class EmbeddingError(MangaAssistError):
    """The embeddings model failed for a reason other than throttling."""


class Embedder(Protocol):
    model_id: str
    dimensions: int

    def embed_query(self, text: str) -> list[float]: ...
    def embed_passages(self, texts: list[str]) -> list[list[float]]: ...


@dataclass(frozen=True)
class EmbeddingConfig:
    model_id: str = "amazon.titan-embed-text-v2:0"
    dimensions: int = 1024
    query_prefix: str = ""
    passage_prefix: str = ""

    @classmethod
    def from_settings(cls, s: Settings) -> EmbeddingConfig:
        return cls(model_id=s.embedding_model_id, dimensions=s.embedding_dimensions,
                   query_prefix=s.embedding_query_prefix, passage_prefix=s.embedding_passage_prefix)


class BedrockTitanEmbedder:
    def __init__(self, runtime: Any, config: EmbeddingConfig) -> None:
        self._runtime = runtime  # a bedrock-runtime client
        self.config = config
        self.model_id = config.model_id
        self.dimensions = config.dimensions

    def _embed(self, text: str) -> list[float]:
        body = {"inputText": text, "dimensions": self.dimensions, "normalize": True}
        try:
            response = self._runtime.invoke_model(modelId=self.model_id, contentType="application/json",
                                                  accept="application/json", body=json.dumps(body, ensure_ascii=False))
            vector = json.loads(response["body"].read())["embedding"]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code in ("ThrottlingException", "TooManyRequestsException") or \
                    error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 429:
                raise DependencyThrottledError(f"embeddings throttled: {code}") from error
            raise EmbeddingError(f"embeddings failed: {code}") from error
        except BotoCoreError as error:
            raise EmbeddingError(f"embeddings failed: {error}") from error
        if len(vector) != self.dimensions:
            raise EmbeddingError(f"expected {self.dimensions} dimensions from {self.model_id}, got {len(vector)}")
        return [float(x) for x in vector]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(self.config.query_prefix + text)

    def embed_passages(self, texts: list[str]) -> list[list[float]]:
        # Titan v2 embeds one text per call; batching happens in the queue (10 documents per message batch).
        return [self._embed(self.config.passage_prefix + text) for text in texts]
