"""Where a job's results go in the results bucket: jobs/<job_id>/result.json and jobs/<job_id>/<chart>.png."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

RESULT_FILE = "result.json"
_CHART_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def result_prefix(job_id: str) -> str:
    return f"jobs/{job_id}/"


def result_key(job_id: str) -> str:
    return f"{result_prefix(job_id)}{RESULT_FILE}"


def chart_key(job_id: str, name: str) -> str:
    if not _CHART_NAME.fullmatch(name):
        raise ValueError(f"chart name {name!r}: lower-case letters, digits, '_' and '-'")
    return f"{result_prefix(job_id)}{name}.png"


@dataclass(frozen=True)
class JobOutput:
    """What a job produced: its result (JSON-ready), its charts (name -> PNG bytes) and a one-line summary."""

    result: dict[str, Any]
    charts: dict[str, bytes] = field(default_factory=dict)
    summary: str = ""
    # Objects outside jobs/<id>/, JSON (key -> body), written after result.json: e.g. the regression run's
    # quality/last-regression.json, which the SLA optimizer reads.
    objects: dict[str, bytes] = field(default_factory=dict)


class ResultStore:
    """The results bucket through a low-level S3 client."""

    def __init__(self, client: Any, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    def write(self, job_id: str, output: JobOutput) -> list[str]:
        """Charts first, result.json last (a reader that finds result.json finds the charts); returns the keys.
        Re-running a job overwrites the same keys."""
        keys = []
        for name, png in sorted(output.charts.items()):
            key = chart_key(job_id, name)
            self.client.put_object(Bucket=self.bucket, Key=key, Body=png, ContentType="image/png")
            keys.append(key)
        body = json.dumps(output.result, ensure_ascii=False, indent=2, sort_keys=False).encode()
        key = result_key(job_id)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType="application/json")
        for extra, payload in sorted(output.objects.items()):
            self.client.put_object(Bucket=self.bucket, Key=extra, Body=payload, ContentType="application/json")
        return [key, *keys, *sorted(output.objects)]
