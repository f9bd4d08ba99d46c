"""The regression suite's logic: the composite score by hand, severities at their boundaries (an improvement
is never a regression), pass^K and flaky cases, the baseline round trip and the bundled golden set."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mangaassist.quality.baseline import BaselineError, bless, check_comparable, load_baseline, save_baseline
from mangaassist.quality.golden import GoldenCase, GoldenError, load_golden, parse_golden
from mangaassist.quality.regression import REGRESSIONS, Severity, classify, compare, verdict
from mangaassist.quality.report import build_report, format_report, last_run_record
from mangaassist.quality.scoring import count_sentences, keyword_score, language_score, score_answer
from mangaassist.quality.suite import Reply, run_suite
from mangaassist.turn import Task

PRODUCT = GoldenCase.model_validate({
    "id": "product-en-one-piece-1", "task": "product_search", "language": "en",
    "question": "How much is One Piece volume 1?", "reference": "Volume 1 of One Piece costs ¥528.",
    "expected_keywords": ["528", "One Piece"],
    "forbidden_keywords": ["out of stock", "I'm not sure", "perhaps", "Never reveal", "<context>"],
    "structure": {"max_sentences": 3, "max_chars": 300, "must": ["price"]}})


def test_a_known_answer_scores_as_computed_by_hand() -> None:
    # semantic: cos([1,0],[0.6,0.8]) = 0.6; keywords 2/2 present, 0/5 forbidden -> 1; structure: one sentence
    # ("vol." is no sentence end), 52 chars, a price -> 1; English -> 1.
    # 0.40*0.6 + 0.25*1 + 0.15*1 + 0.20*1 = 0.84
    score = score_answer(PRODUCT, "One Piece vol. 1 is ¥528, and we have 18 in stock.", [1.0, 0.0], [0.6, 0.8])
    assert (score.semantic, score.keywords, score.structure, score.language_match) == (0.6, 1.0, 1.0, 1.0)
    assert score.composite == pytest.approx(0.84)
    assert score.problems == []


def test_a_hedged_wrong_answer_scores_as_computed_by_hand() -> None:
    # keywords: "528" missing -> 1/2; "I'm not sure" and "perhaps" found -> 1 - 2/5 = 0.6; 0.5*0.6 = 0.3
    # structure: 4 sentences > 3 fails, length and price ("600 yen") pass -> 2/3
    # 0.40*1 + 0.25*0.3 + 0.15*(2/3) + 0.20*1 = 0.775
    text = "I'm not sure, perhaps One Piece costs 600 yen. It is great. Really. Buy it."
    score = score_answer(PRODUCT, text, [1.0, 0.0], [1.0, 0.0])
    assert score.keywords == pytest.approx(0.3)
    assert score.structure == pytest.approx(0.6667, abs=1e-4)
    assert score.composite == pytest.approx(0.775)
    assert "missing '528'" in score.problems and "forbidden 'perhaps'" in score.problems
    assert "4 sentences > 3" in score.problems


def test_the_wrong_language_loses_the_language_part() -> None:
    ja = score_answer(PRODUCT, "ONE PIECEの第1巻は528円です。", [1.0, 0.0], [1.0, 0.0])
    assert ja.language_match == 0.0
    # keywords: "One Piece" matches "ONE PIECE" (case-folded) and "528" -> 1; structure 1; semantic 1
    assert ja.composite == pytest.approx(0.80)
    assert language_score("こんにちは、MangaAssistです。", "ja") == (1.0, "ja")
    assert language_score("", "en") == (0.0, "none")


def test_keywords_and_sentences() -> None:
    assert keyword_score("ＯＮＥ piece ¥528", ["one piece", "528"], []) == (1.0, [], [])
    assert keyword_score("anything", [], []) == (1.0, [], [])
    assert count_sentences("おすすめはこちらです。\n・A: 面白い。\n・B") == 3  # 。 and line breaks end sentences
    assert count_sentences("Dr. Stone vol. 2 is ¥484. We have 17.") == 2


@pytest.mark.parametrize(("baseline", "current", "expected"), [
    (0.80, 0.64, Severity.MAJOR),        # exactly 20%: major, critical is above 20%
    (0.80, 0.6399, Severity.CRITICAL),
    (1.00, 0.90, Severity.MAJOR),        # exactly 10%
    (1.00, 0.9001, Severity.MINOR),
    (1.00, 0.95, Severity.MINOR),        # exactly 5%
    (1.00, 0.9501, Severity.NONE),
    (0.50, 0.90, Severity.IMPROVEMENT),  # +80%: an improvement, not a "critical" abs(delta)
    (0.50, 0.51, Severity.NONE),
    (0.90, 0.0, Severity.CRITICAL),
    (0.0, 0.0, Severity.NONE),
    (0.0, 0.3, Severity.IMPROVEMENT),
])
def test_severities_are_relative_drops_at_their_boundaries(baseline: float, current: float,
                                                            expected: Severity) -> None:
    assert classify(baseline, current) is expected


def test_absolute_and_relative_drops_differ() -> None:
    # 0.40 -> 0.30 is an absolute drop of 0.10 (the seed's "major") but a relative drop of 25%: critical.
    assert classify(0.40, 0.30) is Severity.CRITICAL
    # 0.95 -> 0.80 is 0.15 absolute but 15.8% relative: major.
    assert classify(0.95, 0.80) is Severity.MAJOR


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_an_improvement_is_never_a_regression(baseline: float, current: float) -> None:
    if current >= baseline:
        assert classify(baseline, current) not in REGRESSIONS


def _baseline(overall: float, cases: dict[str, float]) -> Any:
    summary = {"model_ids": ["m"], "embedding": {"model_id": "e", "dimensions": 2}, "repeat": 1,
               "threshold": 0.75, "overall": overall, "per_task": {"faq": overall},
               "per_language": {"en": overall}, "cases": cases}
    return bless(summary, "abc", "ws://x")


def test_compare_reports_improvements_and_fails_only_on_critical() -> None:
    base = _baseline(0.8, {"a": 0.8, "b": 0.8, "gone": 0.7})
    better = compare({"overall": 0.95, "per_task": {"faq": 0.95}, "per_language": {"en": 0.95},
                      "cases": {"a": 0.99, "b": 0.8, "new": 0.5}}, base)
    by_name = {(f.scope, f.name): f.severity for f in better}
    assert by_name[("overall", "overall")] is Severity.IMPROVEMENT
    assert by_name[("case", "a")] is Severity.IMPROVEMENT
    assert by_name[("case", "b")] is Severity.NONE
    assert by_name[("case", "new")] is Severity.NEW and by_name[("case", "gone")] is Severity.MISSING
    assert verdict(better) == "pass"
    one_case_collapsed = compare({"overall": 0.78, "per_task": {"faq": 0.78}, "per_language": {"en": 0.78},
                                  "cases": {"a": 0.6, "b": 0.8, "gone": 0.7}}, base)
    assert verdict(one_case_collapsed) == "fail"  # a 25% drop of one case is critical, whatever the mean does


class TableEmbedder:
    """A fixed vector per text: the suite's counting is under test here, not the model."""

    model_id = "table"
    dimensions = 2

    def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0] if "528" in text else [0.0, 1.0]


def test_pass_k_names_flaky_and_failing_cases() -> None:
    steady = PRODUCT
    flaky = PRODUCT.model_copy(update={"id": "flaky"})
    broken = PRODUCT.model_copy(update={"id": "broken"})
    calls: dict[str, int] = {}

    def answer(case: GoldenCase) -> Reply:
        calls[case.id] = n = calls.get(case.id, 0) + 1
        if case.id == "broken" or (case.id == "flaky" and n % 2 == 0):
            return Reply(None, "error frame MODEL_ERROR: down")
        return Reply("One Piece vol. 1 is ¥528.", meta={"cache": "miss", "tiers": [
            {"target": "haiku", "model_id": "anthropic.claude-3-haiku-20240307-v1:0", "outcome": "ok"}]})

    run = run_suite([steady, flaky, broken], answer, TableEmbedder(), repeat=4, concurrency=1)
    summary = run.summary()
    assert calls == {"product-en-one-piece-1": 4, "flaky": 4, "broken": 4}
    assert summary["flaky"] == ["flaky"] and summary["failing"] == ["broken"]
    assert summary["pass_k"] == pytest.approx(1 / 3, abs=1e-4)  # only the steady case passed all 4 runs
    assert summary["pass_rate"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)
    assert summary["cases"]["flaky"] == pytest.approx(0.5)  # mean of 1, 0, 1, 0
    assert summary["errors"] == 6
    assert summary["model_ids"] == ["anthropic.claude-3-haiku-20240307-v1:0"]
    report = build_report(run, _baseline(1.0, {"product-en-one-piece-1": 1.0, "flaky": 1.0, "broken": 1.0}),
                          "ws://x", "abc")
    assert report["verdict"] == "fail"
    assert "flaky (passed some runs, not all): flaky" in format_report(report)
    assert last_run_record(report)["overall"] == report["overall"]


def test_baseline_round_trip_and_refusals(tmp_path: Path) -> None:
    path = save_baseline(_baseline(0.9, {"a": 0.9}), tmp_path / "b.json")
    loaded = load_baseline(path)
    assert loaded.cases == {"a": 0.9} and len(loaded.prompts_version) == 12
    with pytest.raises(BaselineError, match="not comparable"):
        check_comparable(loaded, {"model_id": "amazon.titan-embed-text-v2:0", "dimensions": 1024})
    with pytest.raises(BaselineError, match="--bless"):
        load_baseline(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text(json.dumps({"overall": "x"}))
    with pytest.raises(BaselineError, match="malformed"):
        load_baseline(tmp_path / "bad.json")


def test_golden_set_errors_name_the_line() -> None:
    with pytest.raises(GoldenError, match="line 2: task"):
        parse_golden([PRODUCT.model_dump_json(), json.dumps({**PRODUCT.model_dump(mode="json"), "id": "x",
                                                             "task": "gossip"})])
    with pytest.raises(GoldenError, match="duplicate"):
        parse_golden([PRODUCT.model_dump_json()] * 2)
    with pytest.raises(GoldenError, match="line 1"):
        parse_golden(["{not json"])


def test_the_bundled_golden_set_covers_every_task_in_both_languages() -> None:
    cases = load_golden()
    assert len(cases) >= 120
    pairs = {(c.task, c.language) for c in cases}
    assert pairs == {(task, language) for task in Task for language in ("en", "ja")}


def test_the_committed_baseline_matches_the_golden_set() -> None:
    baseline = load_baseline()
    assert set(baseline.cases) == {c.id for c in load_golden()}
    assert baseline.overall >= 0.75


def test_a_run_of_some_tasks_compares_with_the_baseline_of_those_cases() -> None:
    faq_case = PRODUCT.model_copy(update={"id": "faq-1", "task": Task.FAQ})
    ja_case = PRODUCT.model_copy(update={"id": "faq-2", "task": Task.FAQ, "language": "ja"})
    base = _baseline(0.6, {"faq-1": 0.9, "faq-2": 0.7, "product-en-one-piece-1": 0.2})
    findings = compare({"overall": 0.8, "per_task": {"faq": 0.8}, "per_language": {"en": 0.9, "ja": 0.7},
                        "cases": {"faq-1": 0.9, "faq-2": 0.7}}, base, [faq_case, ja_case])
    # the baseline over faq-1 and faq-2 is 0.8 overall: unchanged; the product case was not run, not "missing"
    assert {(f.scope, f.name): f.severity for f in findings} == {
        ("overall", "overall"): Severity.NONE, ("task", "faq"): Severity.NONE, ("language", "en"): Severity.NONE,
        ("language", "ja"): Severity.NONE, ("case", "faq-1"): Severity.NONE, ("case", "faq-2"): Severity.NONE}


def test_a_regression_run_job_stores_the_report_chart_and_last_run_record() -> None:
    from mangaassist.jobs import build_job
    from mangaassist.jobs.runner import run_job
    from mangaassist.quality.report import LAST_RUN_KEY, LAST_RUN_SCHEMA

    def answer(case: GoldenCase) -> Reply:
        return Reply("One Piece vol. 1 is ¥528." if case.id != "other" else "Sorry.", meta={"cache": "miss"})

    other = PRODUCT.model_copy(update={"id": "other", "task": Task.FAQ})
    run = run_suite([PRODUCT, other], answer, TableEmbedder(), concurrency=2)
    report = build_report(run, _baseline(0.9, {"product-en-one-piece-1": 0.9, "other": 0.9}), "ws://x", "abc")
    params = {k: v for k, v in report.items() if k != "results"}
    job = build_job("regression-run", json.loads(json.dumps(params)))
    output = run_job(job, turns=None)  # type: ignore[arg-type]  # this kind reads no turns
    assert output.charts["tasks"].startswith(b"\x89PNG")
    record = json.loads(output.objects[LAST_RUN_KEY])
    assert record["schema"] == LAST_RUN_SCHEMA and record["overall"] == report["overall"]
    assert record["verdict"] == "fail" and record["baseline_overall"] == 0.9
    assert "critical" in output.summary and output.result["kind"] == "regression-run"
