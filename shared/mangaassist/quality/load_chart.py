"""The load test's PNG: latency over time (p50, p95 and max of the turns scheduled in each time bin, with the
SLA lines) above the arrivals per second and the intended rate (matplotlib Agg, object API: no pyplot state,
safe in the analytics worker's threads)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure

from mangaassist.quality.arrivals import LoadShape
from mangaassist.quality.load_report import SLA_MS, TimeBin


def latency_chart(shape: LoadShape, bins: list[TimeBin], title: str = "") -> bytes:
    figure = Figure(figsize=(10, 6.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    middles = [b.start_s + b.width_s / 2 for b in bins]
    for name, values, style in (("max", [b.max_ms for b in bins], dict(color="#bab0ac", linewidth=1)),
                                ("p95", [b.p95_ms for b in bins], dict(color="#f58518", linewidth=1.5)),
                                ("p50", [b.p50_ms for b in bins], dict(color="#4c78a8", linewidth=1.5))):
        top.plot(middles, [float("nan") if v is None else v for v in values], marker=".", label=name, **style)
    ceiling = max((b.max_ms for b in bins if b.max_ms is not None), default=SLA_MS["p99"])
    missing = [(m, b.no_reply) for m, b in zip(middles, bins, strict=True) if b.no_reply]
    if missing:
        top.scatter([m for m, _ in missing], [ceiling * 1.05] * len(missing), marker="x", color="#e45756",
                    label=f"no reply ({sum(n for _, n in missing)} turns)")
    for name, ms in SLA_MS.items():
        top.axhline(ms, linestyle=":", linewidth=0.8, color="#888888")
        top.text(0, ms, f" {name} SLA", fontsize="x-small", va="bottom", color="#666666")
    top.set_ylabel("latency, scheduled send -> reply (ms)")
    top.set_title(title or f"{shape.pattern.value} load: {shape.rate:g} turns/s for {shape.duration:g} s "
                           f"(turns by scheduled time)")
    top.grid(alpha=0.3)
    top.legend(fontsize="small", loc="upper left")
    bottom.bar([b.start_s for b in bins], [b.arrivals / b.width_s for b in bins],
               width=[b.width_s for b in bins], align="edge", color="#9ecae9", label="arrivals (scheduled)")
    fallbacks = [b.fallbacks / b.width_s for b in bins]
    if any(fallbacks):
        bottom.bar([b.start_s for b in bins], fallbacks, width=[b.width_s for b in bins], align="edge",
                   color="#f58518", label="of which fallbacks")
    steps = [shape.duration * i / 400 for i in range(400)]
    bottom.plot(steps, [shape.rate_at(t) for t in steps], color="#e45756", linewidth=1, label="intended rate")
    bottom.set_xlabel("seconds from the start")
    bottom.set_ylabel("turns per second")
    bottom.grid(alpha=0.3)
    bottom.legend(fontsize="small", loc="upper left")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()
