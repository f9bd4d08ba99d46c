"""Where the optimizer's quality figure comes from: the last prompt regression run's record (mangaassist.quality.
report: `overall` in [0, 1]), read from a file (the local stack) or the results bucket (deployed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mangaassist.quality.report import LAST_RUN_KEY, LAST_RUN_SCHEMA


class QualityUnreadable(ValueError):
    pass


def quality_of(record: Any, where: str) -> tuple[float, str]:
    """(score, a description of its source) from a last-run record; QualityUnreadable when it is not one."""
    if not isinstance(record, dict) or record.get("schema") != LAST_RUN_SCHEMA:
        raise QualityUnreadable(f"{where} is not a regression last-run record (schema {LAST_RUN_SCHEMA})")
    overall = record.get("overall")
    if not isinstance(overall, int | float) or not 0 <= overall <= 1:
        raise QualityUnreadable(f"{where}: 'overall' must be a score in 0..1, got {overall!r}")
    return float(overall), f"regression run of {record.get('generated_at', '?')} ({where})"


def quality_from_file(path: Path) -> tuple[float, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise QualityUnreadable(f"cannot read {path}: {error}") from None
    return quality_of(data, str(path))


def quality_from_bucket(s3: Any, bucket: str) -> tuple[float, str] | None:
    """The last run's score from the results bucket; None when no run was recorded there."""
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=bucket, Key=LAST_RUN_KEY)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None  # no regression run recorded yet: quality stays unknown
        raise
    try:
        return quality_of(json.loads(body), f"s3://{bucket}/{LAST_RUN_KEY}")
    except ValueError as error:
        raise QualityUnreadable(str(error)) from None
