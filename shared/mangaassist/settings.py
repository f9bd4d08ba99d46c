"""One validated settings model for every function, read once per process from the environment.

template.yaml sets these variables (Globals and per function); the local stack sets the same names. A value a
function needs but was not given fails with the variable's name, not with a KeyError deep in a handler.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class SettingsError(RuntimeError):
    """A missing or malformed setting: the message names the environment variable."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    region: str = Field("ap-northeast-1", alias="AWS_REGION")
    # Tables and queues (template.yaml: Globals, or the function's own Environment).
    connections_table: str = Field("", alias="CONNECTIONS_TABLE")
    sessions_table: str = Field("", alias="SESSIONS_TABLE")
    products_table: str = Field("", alias="PRODUCTS_TABLE")
    orders_table: str = Field("", alias="ORDERS_TABLE")
    budget_table: str = Field("", alias="BUDGET_TABLE")
    session_writes_queue_url: str = Field("", alias="SESSION_WRITES_QUEUE_URL")
    state_machine_arn: str = Field("", alias="STATE_MACHINE_ARN")
    jobs_table: str = Field("", alias="JOBS_TABLE")
    results_bucket: str = Field("", alias="RESULTS_BUCKET")
    # Caches and indexes. An empty REDIS_URL means no shared cache (a function outside the cache's VPC).
    redis_url: str = Field("", alias="REDIS_URL")
    opensearch_endpoint: str = Field("", alias="OPENSEARCH_ENDPOINT")
    vector_index: str = Field("mangaassist-store", alias="VECTOR_INDEX")
    # Models.
    price_table: str = Field("", alias="PRICE_TABLE")  # JSON overrides of SPEC §3's prices; see answer.pricing
    embedding_model_id: str = Field("amazon.titan-embed-text-v2:0", alias="EMBEDDING_MODEL_ID")
    embedding_dimensions: int = Field(1024, alias="EMBEDDING_DIMENSIONS", gt=0, le=8192)
    embedding_query_prefix: str = Field("", alias="EMBEDDING_QUERY_PREFIX")
    embedding_passage_prefix: str = Field("", alias="EMBEDDING_PASSAGE_PREFIX")
    classifier_model_path: str = Field("", alias="CLASSIFIER_MODEL_PATH")  # else the model packed in the layer
    # boto3's own endpoint variables: the local stack sets them; in AWS they are unset.
    endpoint_url: str = Field("", alias="AWS_ENDPOINT_URL")
    sfn_endpoint_url: str = Field("", alias="AWS_ENDPOINT_URL_SFN")
    # The @connections endpoint override (boto3's own variable; the local gateway sets it).
    management_endpoint: str = Field("", alias="AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI")

    @field_validator("embedding_dimensions", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return 1024 if value in ("", None) else value

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        if not env.get("AWS_REGION") and env.get("AWS_DEFAULT_REGION"):
            env["AWS_REGION"] = env["AWS_DEFAULT_REGION"]
        try:
            return cls.model_validate(env)
        except ValidationError as error:
            problems = "; ".join(f"{cls._env_name(str(e['loc'][0]))}: {e['msg']}" for e in error.errors())
            raise SettingsError(f"invalid settings in the environment: {problems}") from error

    @classmethod
    def _env_name(cls, name: str) -> str:
        field = cls.model_fields.get(name)
        return str(field.alias) if field is not None and field.alias else name

    def require(self, name: str) -> str:
        """A setting this function cannot work without, e.g. settings().require("sessions_table")."""
        value = getattr(self, name)
        if not value:
            raise SettingsError(f"environment variable {self._env_name(name)} is not set (see template.yaml)")
        return str(value)


def redis_host(url: str) -> str:
    """The host a redis:// or rediss:// URL names, "" when it names none (no cache configured)."""
    if not url.startswith(("redis://", "rediss://")):
        return ""
    return url.split("://", 1)[1].split("/", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0]


@cache
def settings() -> Settings:
    """This process's settings (Lambda: one execution environment). Tests call settings.cache_clear()."""
    return Settings.from_env()
