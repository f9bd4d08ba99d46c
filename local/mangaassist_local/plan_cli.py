"""`mangaassist plan ...`: the planning library (mangaassist.planning) from the command line.

Every option left out keeps the library's default (SPEC §3 / the seeds); `--set FIELD=VALUE` overrides any
other input (dotted for nested inputs, e.g. `--set capacity.headroom=0.3`; values are JSON when they parse).
`--json` prints the whole result, `--chart PATH` writes its PNG.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel, ValidationError

from mangaassist import planning as pl
from mangaassist.planning.models import PlanResult

plan_app = typer.Typer(add_completion=False, no_args_is_help=True,
                       help="Capacity, deployment pattern, TCO, break-even, cascade strategy and model selection "
                            "plans (SPEC §4), from SPEC §3's figures unless told otherwise.")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON (assumptions and notes included).")]
ChartOpt = Annotated[Path | None, typer.Option("--chart", help="Write the result's chart to PATH (PNG).")]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", help="Override any input: FIELD=VALUE, dotted for nested inputs, JSON values. Repeatable.")]
MessagesOpt = Annotated[int | None, typer.Option(help="Messages per day [1000000].")]
PeakOpt = Annotated[float | None, typer.Option(help="Peak RPS / average RPS [3.5].")]
BurstOpt = Annotated[float | None, typer.Option(help="Burst RPS / peak RPS [2].")]
TokensOpt = Annotated[int | None, typer.Option(help="Input + output tokens per request, for sizing [800].")]
SonnetTpmOpt = Annotated[int | None, typer.Option(help="Tokens/min per Sonnet model unit [40000].")]
HaikuTpmOpt = Annotated[int | None, typer.Option(help="Tokens/min per Haiku model unit [40000; seed 000: 80000].")]
SageMakerRpsOpt = Annotated[float | None, typer.Option(help="Requests/s per ml.g5.2xlarge instance [8].")]
HeadroomOpt = Annotated[float | None, typer.Option(help="Headroom over the burst rate [0.2].")]
InTokensOpt = Annotated[int | None, typer.Option(help="Input tokens per message, for prices [500].")]
OutTokensOpt = Annotated[int | None, typer.Option(help="Output tokens per message, for prices [350].")]
WeightOpt = Annotated[list[str] | None, typer.Option("--weight", help="Score weight NAME=VALUE. Repeatable.")]


def _given(**options: Any) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


def _capacity(messages_per_day: int | None, peak_multiplier: float | None, burst_factor: float | None,
              tokens_per_request: int | None, sonnet_tpm: int | None, haiku_tpm: int | None,
              sagemaker_rps: float | None, headroom: float | None) -> dict[str, Any]:
    values = _given(messages_per_day=messages_per_day, peak_multiplier=peak_multiplier, burst_factor=burst_factor,
                    tokens_per_request=tokens_per_request, sagemaker_rps_per_instance=sagemaker_rps,
                    headroom=headroom)
    if sonnet_tpm is not None or haiku_tpm is not None:
        tpm = pl.CapacityInputs().tokens_per_minute_per_unit | _given(sonnet=sonnet_tpm, haiku=haiku_tpm)
        values["tokens_per_minute_per_unit"] = tpm
    return values


def _pairs(items: list[str] | None, option: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise typer.BadParameter(f"expected NAME=NUMBER, got {item!r}", param_hint=option)
    return out


def _merge(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    for key in parents:
        target = target.setdefault(key, {})
        if not isinstance(target, dict):
            raise typer.BadParameter(f"{path}: {key} is not a nested input", param_hint="--set")
    target[leaf] = value


def _inputs[M: BaseModel](model: type[M], values: dict[str, Any], settings: list[str] | None) -> M:
    for item in settings or []:
        path, sep, raw = item.partition("=")
        if not sep or not path.strip():
            raise typer.BadParameter(f"expected FIELD=VALUE, got {item!r}", param_hint="--set")
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw
        _merge(values, path.strip(), value)
    try:
        return model.model_validate(values)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {e['msg']}" for e in error.errors())
        typer.echo(f"mangaassist plan: invalid input: {problems}", err=True)
        raise typer.Exit(2) from None


def _emit(result: PlanResult, as_json: bool, chart: Path | None, table: Callable[[Any], list[str]]) -> None:
    if chart is not None:
        try:
            chart.write_bytes(pl.chart(result))
        except OSError as error:
            typer.echo(f"mangaassist plan: cannot write the chart: {error}", err=True)
            raise typer.Exit(2) from None
    if as_json:
        data = result.model_dump(mode="json")
        tail = {k: data.pop(k) for k in ("assumptions", "notes")}
        typer.echo(json.dumps(data | tail, ensure_ascii=False, indent=2))
        return
    lines = table(result)
    if result.notes:
        lines += ["", "Notes:"] + [f"  - {note}" for note in result.notes]
    lines.append("(--json shows every assumption.)")
    typer.echo("\n".join(lines))
    if chart is not None:
        typer.echo(f"chart: {chart}")


def _rows(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = (c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
        return "  ".join(cells).rstrip()

    return [line(header), line(["-" * w for w in widths]), *map(line, rows)]


def _usd(value: Any, places: int = 2) -> str:
    return f"${float(value):,.{places}f}"


def _capacity_table(p: pl.CapacityPlan) -> list[str]:
    def units(per_model: dict[str, int]) -> str:
        return ", ".join(f"{m} {n}" for m, n in per_model.items())

    return ["Capacity plan", *_rows(["figure", "value"], [
        ["average RPS", f"{p.average_rps:.2f}"], ["peak RPS", f"{p.peak_rps:.2f}"],
        ["burst RPS", f"{p.burst_rps:.2f}"], ["off-peak RPS", f"{p.off_peak_rps:.2f}"],
        ["tokens/min at peak", f"{p.tokens_per_minute_peak:,.0f}"],
        ["model units for the peak", units(p.model_units)],
        ["model units for burst + headroom", units(p.model_units_burst)],
        ["SageMaker instances (peak hours)", f"{p.sagemaker_instances} ({p.sagemaker_instances_peak} w/o headroom)"],
        ["SageMaker instances (off-peak)", str(p.sagemaker_instances_off_peak)],
        ["Lambda concurrency", f"{p.lambda_concurrency} (typical at peak {p.lambda_concurrency_peak_p50})"]])]


def _recommend_table(r: pl.PatternRecommendation) -> list[str]:
    lines = [f"Recommended: {r.recommended or 'none'}   runner-up: {r.runner_up or 'none'}   "
             f"(burst {r.burst_rps:.1f} RPS, budget {_usd(r.budget_usd, 0)}/month)"]
    lines += _rows(["pattern", "eligible", "excluded by", "p99 ms", "USD/month", "score"], [
        [c.pattern.value, "yes" if c.eligible else "no", ",".join(c.excluded_by) or "-", f"{c.effective_p99_ms:,.0f}",
         _usd(c.monthly_cost_usd, 0), f"{c.total_score:.1f}"] for c in r.candidates])
    for c in r.candidates:
        lines += [f"{c.pattern.value}:"] + [f"  {reason}" for reason in c.reasons]
    return lines


def _tco_table(t: pl.TcoReport) -> list[str]:
    lines = [f"Monthly TCO   cheapest viable as configured: {t.cheapest_viable or 'none'}   "
             f"cheapest when sized to the load: {t.cheapest_when_sized or 'none'}"]
    lines += _rows(["pattern", "viable", "priced at", "compute", "tokens", "operations", "total", "as configured"], [
        [c.pattern.value, "yes" if c.viable else "NO", c.priced_at, _usd(c.compute_usd, 0), _usd(c.token_usd, 0),
         _usd(c.operations_usd, 0), _usd(c.total_usd, 0), _usd(c.configured_total_usd, 0)] for c in t.patterns])
    return lines + [f"{c.pattern.value}: {c.reason}" for c in t.patterns]


def _utilisation(p: pl.BreakEvenPoint) -> str:
    if not p.never:
        return f"{p.break_even_utilisation or 0:.1%}"
    return "never" if p.utilisation_needed is None else f"never ({p.utilisation_needed:.0%} needed)"


def _break_even_table(b: pl.BreakEvenReport) -> list[str]:
    return ["On-demand vs provisioned break-even (per model unit)", *_rows(
        ["model", "commitment", "unit $/h", "on-demand value $/h", "break-even utilisation"],
        [[p.model, p.commitment.value, _usd(p.provisioned_price_per_hour_usd),
          _usd(p.on_demand_value_per_unit_hour_usd), _utilisation(p)] for p in b.points])]


def _strategies_table(s: pl.StrategyComparison) -> list[str]:
    lines = [f"Cascade strategies   best by seed 002's score: {s.best_by_score.value}   "
             f"best meeting the quality floor: "
             f"{s.best_meeting_quality_floor.value if s.best_meeting_quality_floor else 'none'}"]
    lines += _rows(["strategy", "USD/day", "USD/month (30 d)", "USD/query", "saving", "quality", "score", "floor"], [
        [r.name.value, _usd(r.daily_cost_usd), _usd(r.monthly_cost_usd), f"{float(r.cost_per_query_usd):.6f}",
         f"{float(r.saving_vs_all_sonnet):.1%}", f"{r.quality:.2f}", f"{r.efficiency_score:.2f}",
         "meets" if r.meets_quality_floor else "below"] for r in s.strategies.values()])
    i = s.identity
    lines.append(f"cascade / all-Sonnet = {float(i.cascade_to_all_sonnet):.6f}; 1/{float(i.price_ratio):g} + "
                 f"escalation rate = {float(i.expected):.6f}: {'holds exactly' if i.holds else 'DOES NOT HOLD'}")
    return lines


def _select_table(m: pl.ModelSelection) -> list[str]:
    lines = [f"Selected: {m.selected or 'none'} — {m.reason}"]
    lines += _rows(["model", "eligible", "excluded by", "USD/query", "cost", "quality", "latency", "fit", "score"], [
        [s.name, "yes" if s.eligible else "no", ",".join(s.excluded_by) or "-", f"{float(s.cost_per_query_usd):.6f}",
         f"{s.cost_score:.3f}", f"{s.quality_score:.3f}", f"{s.latency_score:.3f}", f"{s.fit_score:.2f}",
         f"{s.total_score:.4f}"] for s in m.ranking])
    return lines + [f"  {t}" for t in m.trade_offs]


@plan_app.command()
def capacity(messages_per_day: MessagesOpt = None, peak_multiplier: PeakOpt = None, burst_factor: BurstOpt = None,
             tokens_per_request: TokensOpt = None, sonnet_tpm: SonnetTpmOpt = None, haiku_tpm: HaikuTpmOpt = None,
             sagemaker_rps: SageMakerRpsOpt = None, headroom: HeadroomOpt = None, as_json: JsonOpt = False,
             chart: ChartOpt = None, set_: SetOpt = None) -> None:
    """RPS, tokens per minute, model units, SageMaker instances and Lambda concurrency for a traffic profile."""
    values = _capacity(messages_per_day, peak_multiplier, burst_factor, tokens_per_request, sonnet_tpm, haiku_tpm,
                       sagemaker_rps, headroom)
    _emit(pl.capacity_plan(_inputs(pl.CapacityInputs, values, set_)), as_json, chart, _capacity_table)


def _tco_values(capacity: dict[str, Any], **options: Any) -> dict[str, Any]:
    return _given(**options) | ({"capacity": capacity} if capacity else {})


@plan_app.command()
def tco(messages_per_day: MessagesOpt = None, peak_multiplier: PeakOpt = None, burst_factor: BurstOpt = None,
        tokens_per_request: TokensOpt = None, sonnet_tpm: SonnetTpmOpt = None, haiku_tpm: HaikuTpmOpt = None,
        sagemaker_rps: SageMakerRpsOpt = None, headroom: HeadroomOpt = None, input_tokens: InTokensOpt = None,
        output_tokens: OutTokensOpt = None,
        engineer_hourly_rate: Annotated[float | None, typer.Option(help="USD per engineer hour [150].")] = None,
        sonnet_share: Annotated[float | None, typer.Option(help="On-demand share on Sonnet [0.30].")] = None,
        provisioned_units: Annotated[int | None, typer.Option(help="Configured provisioned units [2].")] = None,
        provisioned_hours: Annotated[float | None, typer.Option(help="Provisioned hours per day [24].")] = None,
        commitment: Annotated[pl.Commitment | None, typer.Option(help="Provisioned commitment [none].")] = None,
        sagemaker_peak_instances: Annotated[int | None, typer.Option(help="Configured instances at peak [4].")] = None,
        sagemaker_base_instances: Annotated[int | None, typer.Option(help="Configured instances off-peak [2].")] = None,
        as_json: JsonOpt = False, chart: ChartOpt = None, set_: SetOpt = None) -> None:
    """Monthly cost of ownership per deployment pattern; patterns whose configured size cannot carry the load are
    marked not viable and priced at the size they would need."""
    values = _tco_values(_capacity(messages_per_day, peak_multiplier, burst_factor, tokens_per_request, sonnet_tpm,
                                   haiku_tpm, sagemaker_rps, headroom), input_tokens=input_tokens,
                         output_tokens=output_tokens, engineer_hourly_rate=engineer_hourly_rate,
                         on_demand_sonnet_share=sonnet_share, provisioned_units=provisioned_units,
                         provisioned_hours_per_day=provisioned_hours, commitment=commitment,
                         sagemaker_peak_instances=sagemaker_peak_instances,
                         sagemaker_base_instances=sagemaker_base_instances)
    _emit(pl.total_cost_of_ownership(_inputs(pl.TcoInputs, values, set_)), as_json, chart, _tco_table)


@plan_app.command()
def recommend(messages_per_day: MessagesOpt = None, peak_multiplier: PeakOpt = None, burst_factor: BurstOpt = None,
              tokens_per_request: TokensOpt = None, sonnet_tpm: SonnetTpmOpt = None, haiku_tpm: HaikuTpmOpt = None,
              sagemaker_rps: SageMakerRpsOpt = None, headroom: HeadroomOpt = None,
              max_p99_ms: Annotated[float | None, typer.Option(help="p99 target in ms [3000].")] = None,
              latency_tolerance: Annotated[float | None, typer.Option(help="Filter at target × this [1.0].")] = None,
              max_monthly_cost: Annotated[float | None, typer.Option(help="Monthly budget, USD [0.006/query].")] = None,
              needs_custom_model: Annotated[bool, typer.Option(help="Only patterns that host a custom model.")] = False,
              needs_bedrock_model: Annotated[bool, typer.Option(help="Only patterns serving Claude.")] = False,
              weight: WeightOpt = None, as_json: JsonOpt = False, chart: ChartOpt = None, set_: SetOpt = None) -> None:
    """Recommend a deployment pattern: hard filters (p99, burst throughput, budget), then seed 000's weighted
    latency/throughput/cost/operations score (weights: --weight latency=0.35 ...)."""
    capacity_values = _capacity(messages_per_day, peak_multiplier, burst_factor, tokens_per_request, sonnet_tpm,
                                haiku_tpm, sagemaker_rps, headroom)
    values = _given(max_p99_ms=max_p99_ms, latency_tolerance=latency_tolerance, max_monthly_cost_usd=max_monthly_cost)
    values |= {"needs_custom_model": needs_custom_model, "needs_bedrock_model": needs_bedrock_model}
    if capacity_values:
        values["tco"] = {"capacity": capacity_values}
    if weight:
        values["weights"] = pl.PatternInputs().weights | _pairs(weight, "--weight")
    _emit(pl.recommend_pattern(_inputs(pl.PatternInputs, values, set_)), as_json, chart, _recommend_table)


@plan_app.command("break-even")
def break_even(input_tokens: InTokensOpt = None, output_tokens: OutTokensOpt = None,
               sonnet_tpm: SonnetTpmOpt = None, haiku_tpm: HaikuTpmOpt = None,
               sonnet_unit_price: Annotated[float | None, typer.Option(help="Sonnet unit USD/h [23].")] = None,
               haiku_unit_price: Annotated[float | None, typer.Option(help="Haiku unit USD/h [5].")] = None,
               one_month_discount: Annotated[float | None, typer.Option(help="1-month discount [0.30].")] = None,
               six_months_discount: Annotated[float | None, typer.Option(help="6-month discount [0.50].")] = None,
               as_json: JsonOpt = False, chart: ChartOpt = None, set_: SetOpt = None) -> None:
    """Utilisation at which provisioned throughput beats on-demand, per model and commitment (or never)."""
    defaults = pl.BreakEvenInputs()
    values = _given(input_tokens=input_tokens, output_tokens=output_tokens)
    if sonnet_tpm is not None or haiku_tpm is not None:
        values["tokens_per_minute_per_unit"] = defaults.tokens_per_minute_per_unit | _given(sonnet=sonnet_tpm,
                                                                                             haiku=haiku_tpm)
    if sonnet_unit_price is not None or haiku_unit_price is not None:
        values["unit_price_per_hour"] = {k: str(v) for k, v in defaults.unit_price_per_hour.items()} | {
            k: str(v) for k, v in _given(sonnet=sonnet_unit_price, haiku=haiku_unit_price).items()}
    if one_month_discount is not None or six_months_discount is not None:
        values["commitment_discounts"] = {k.value: str(v) for k, v in defaults.commitment_discounts.items()} | {
            k: str(v) for k, v in _given(one_month=one_month_discount, six_months=six_months_discount).items()}
    _emit(pl.break_even(_inputs(pl.BreakEvenInputs, values, set_)), as_json, chart, _break_even_table)


@plan_app.command()
def strategies(messages_per_day: MessagesOpt = None, input_tokens: InTokensOpt = None,
               output_tokens: OutTokensOpt = None,
               escalation_rate: Annotated[float | None, typer.Option(help="Escalated share [0.15].")] = None,
               cache_hit_rate: Annotated[float | None, typer.Option(help="Answer cache hit rate [0.20].")] = None,
               quality_floor: Annotated[float | None, typer.Option(help="Minimum quality [0.90].")] = None,
               quality: Annotated[list[str] | None, typer.Option(help="Quality STRATEGY=VALUE. Repeatable.")] = None,
               as_json: JsonOpt = False, chart: ChartOpt = None, set_: SetOpt = None) -> None:
    """All-Sonnet vs all-Haiku vs the Haiku-first cascade (with and without the cache): daily and monthly cost,
    quality, seed 002's cost-efficiency score, and the 1/12 + escalation-rate identity."""
    values = _given(messages_per_day=messages_per_day, input_tokens=input_tokens, output_tokens=output_tokens,
                    escalation_rate=None if escalation_rate is None else str(escalation_rate),
                    cache_hit_rate=None if cache_hit_rate is None else str(cache_hit_rate),
                    quality_floor=quality_floor)
    if quality:
        values["quality"] = {k.value: v for k, v in pl.StrategyInputs().quality.items()} | _pairs(quality, "--quality")
    _emit(pl.compare_strategies(_inputs(pl.StrategyInputs, values, set_)), as_json, chart, _strategies_table)


@plan_app.command("select-model")
def select_model(task: Annotated[str | None, typer.Option(help="Task category [general].")] = None,
                 goal: Annotated[str | None, typer.Option(help="cost, quality, latency or balanced.")] = None,
                 max_latency_ms: Annotated[float | None, typer.Option(help="Max average latency [3000].")] = None,
                 max_cost_per_query: Annotated[float | None, typer.Option(help="Max USD per query [0.02].")] = None,
                 min_quality: Annotated[float | None, typer.Option(help="Minimum quality [0.85].")] = None,
                 language: Annotated[str | None, typer.Option(help="Language to support [ja].")] = None,
                 input_tokens: InTokensOpt = None, output_tokens: OutTokensOpt = None, weight: WeightOpt = None,
                 as_json: JsonOpt = False, chart: ChartOpt = None, set_: SetOpt = None) -> None:
    """Seed 002's model selector: hard constraints, then weighted cost/quality/latency/task fit."""
    values = _given(task=task, goal=goal, max_latency_ms=max_latency_ms, min_quality=min_quality, language=language,
                    max_cost_per_query_usd=None if max_cost_per_query is None else str(max_cost_per_query),
                    input_tokens=input_tokens, output_tokens=output_tokens)
    if weight:
        values["weights"] = _pairs(weight, "--weight")
    _emit(pl.select_model(_inputs(pl.SelectionInputs, values, set_)), as_json, chart, _select_table)
