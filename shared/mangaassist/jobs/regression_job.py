"""The regression-run kind: a `mangaassist regress --job` run, stored with its per-task chart; its last-run
record also goes to quality/last-regression.json (what the SLA optimizer reads for quality)."""

from __future__ import annotations

import json

from mangaassist.jobs.models import RegressionRunJob
from mangaassist.jobs.results import JobOutput
from mangaassist.quality.chart import task_chart
from mangaassist.quality.run_record import LAST_RUN_KEY


def run_regression(job: RegressionRunJob) -> JobOutput:
    run = job.params
    report = run.model_dump(mode="json")
    counts = run.severity_counts
    line = (f"{run.case_count} cases x {run.repeat} against {run.target}: overall {run.overall:.3f}"
            + (f" vs baseline {run.baseline.get('overall'):.3f}" if run.baseline and run.baseline.get("overall")
               is not None else "")
            + f", pass^{run.repeat} {run.pass_k:.1%}; {counts.get('critical', 0)} critical, "
              f"{counts.get('major', 0)} major, {counts.get('minor', 0)} minor, "
              f"{counts.get('improvement', 0)} improvements: {run.verdict}")
    record = json.dumps(run.record(), ensure_ascii=False, indent=1).encode()
    return JobOutput(result={"kind": job.kind, "job_id": job.job_id, **report},
                     charts={"tasks": task_chart(report)}, summary=line, objects={LAST_RUN_KEY: record})
