"""One validated settings model for every function, read once per process from the environment.

template.yaml sets these variables (Globals and per function); the local stack sets the same names. A value a
function needs but was not given fails with the variable's name, not with a KeyError deep in a handler.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from functools import cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator


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
    # The SLA optimizer's tuned values (mangaassist.tuning.runtime_config): the table, how long a function may use
    # a value it read (seconds; 0 reads on every turn, as the local stack does), and whether the scheduled
    # optimizer run may apply its step (the OptimizerApply parameter) or only recommends it.
    runtime_config_table: str = Field("", alias="RUNTIME_CONFIG_TABLE")
    runtime_config_max_age_seconds: int = Field(5, alias="RUNTIME_CONFIG_MAX_AGE_SECONDS", ge=0, le=300)
    optimizer_apply: bool = Field(False, alias="OPTIMIZER_APPLY")
    # The deployed ConfidenceThreshold (the state machine's LoadConfig has it too): the optimizer's default.
    confidence_threshold: float = Field(0.80, alias="CONFIDENCE_THRESHOLD", ge=0, le=1)
    # Caches and indexes. An empty REDIS_URL means no shared cache (a function outside the cache's VPC).
    redis_url: str = Field("", alias="REDIS_URL")
    # ElastiCache IAM authentication (adapters.redis_client): the IAM-enabled user's id and the cache's name.
    redis_iam_user: str = Field("", alias="REDIS_IAM_USER")
    redis_cache_name: str = Field("", alias="REDIS_CACHE_NAME")
    # The semantic answer cache (reply.semantic_cache): a Redis/Valkey with vector search; "" = off. Max cosine
    # distance for a hit: "" = shadow mode (nearest distances recorded, never served) until tuned for the
    # embedding model (scripts/eval_cache.py). TTLs: "task=seconds,..." over the defaults.
    semantic_cache_url: str = Field("", alias="SEMANTIC_CACHE_URL")
    semantic_cache_name: str = Field("", alias="SEMANTIC_CACHE_NAME")  # the replication group (IAM auth tokens)
    semantic_cache_max_distance: float | None = Field(None, alias="SEMANTIC_CACHE_MAX_DISTANCE", ge=0, le=2)
    semantic_cache_ttls: str = Field("", alias="SEMANTIC_CACHE_TTLS")
    opensearch_endpoint: str = Field("", alias="OPENSEARCH_ENDPOINT")
    vector_index: str = Field("mangaassist-store", alias="VECTOR_INDEX")
    # Models.
    price_table: str = Field("", alias="PRICE_TABLE")  # JSON overrides of SPEC §3's prices; see answer.pricing
    embedding_model_id: str = Field("amazon.titan-embed-text-v2:0", alias="EMBEDDING_MODEL_ID")
    embedding_dimensions: int = Field(1024, alias="EMBEDDING_DIMENSIONS", gt=0, le=8192)
    embedding_query_prefix: str = Field("", alias="EMBEDDING_QUERY_PREFIX")
    embedding_passage_prefix: str = Field("", alias="EMBEDDING_PASSAGE_PREFIX")
    classifier_model_path: str = Field("", alias="CLASSIFIER_MODEL_PATH")  # else the model packed in the layer
    # The SageMaker model's chat template (adapters.chat_template): chatml, llama3 or mistral.
    sagemaker_chat_template: str = Field("chatml", alias="SAGEMAKER_CHAT_TEMPLATE",
                                         pattern=r"^(chatml|llama3|mistral)$")
    # Validate: a per-deployment token in every system prompt (an answer containing it is a leak; "" = one drawn
    # per process) and the hosts answers may link to (comma-separated; subdomains included).
    prompt_canary: str = Field("", alias="PROMPT_CANARY")
    link_allowlist: str = Field("mangaassist.jp", alias="LINK_ALLOWLIST")
    # Abuse and spend limits (chat.limits); 0 turns a limit off.
    rate_connection_per_second: float = Field(1.0, alias="RATE_CONNECTION_PER_SECOND", ge=0)
    rate_connection_burst: int = Field(5, alias="RATE_CONNECTION_BURST", ge=1)
    rate_principal_per_minute: float = Field(30.0, alias="RATE_PRINCIPAL_PER_MINUTE", ge=0)
    rate_principal_burst: int = Field(30, alias="RATE_PRINCIPAL_BURST", ge=1)
    daily_turn_quota: int = Field(200, alias="DAILY_TURN_QUOTA", ge=0)  # turns per principal per JST day
    daily_budget_usd: Decimal = Field(Decimal("700"), alias="DAILY_BUDGET_USD", ge=0)  # 0 = no hard stop
    # boto3's own endpoint variables: the local stack sets them; in AWS they are unset.
    endpoint_url: str = Field("", alias="AWS_ENDPOINT_URL")
    sfn_endpoint_url: str = Field("", alias="AWS_ENDPOINT_URL_SFN")
    # The @connections endpoint override (boto3's own variable; the local gateway sets it).
    management_endpoint: str = Field("", alias="AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI")
    # Who may sign in (the $connect authorizer): the Cognito user pool's issuer, its JWKS and the app client id.
    # The local gateway sets its own issuer here.
    auth_issuer: str = Field("", alias="AUTH_ISSUER")
    auth_jwks_url: str = Field("", alias="AUTH_JWKS_URL")
    auth_audience: str = Field("", alias="AUTH_AUDIENCE")

    @field_validator("embedding_dimensions", mode="before")
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        return 1024 if value in ("", None) else value

    @field_validator("runtime_config_max_age_seconds", "optimizer_apply", "confidence_threshold", mode="before")
    @classmethod
    def _empty_tuning_is_default(cls, value: object, info: ValidationInfo) -> object:
        return cls.model_fields[str(info.field_name)].default if value in ("", None) else value

    @field_validator("semantic_cache_max_distance", mode="before")
    @classmethod
    def _empty_is_shadow(cls, value: object) -> object:
        return None if value in ("", None) else value

    @field_validator("rate_connection_per_second", "rate_connection_burst", "rate_principal_per_minute",
                     "rate_principal_burst", "daily_turn_quota", "daily_budget_usd", mode="before")
    @classmethod
    def _empty_limit_is_default(cls, value: object, info: ValidationInfo) -> object:
        return cls.model_fields[str(info.field_name)].default if value in ("", None) else value

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
