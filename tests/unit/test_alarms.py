"""What sendMessage loses is counted, and template.yaml's alarms watch exactly those metrics; prod refuses to
deploy without an alarm subscriber."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from mangaassist.chat.conversation import handle_frame
from mangaassist.errors import TurnTimeoutError

from .test_chat import ANSWER, FakePorts, body

ROOT = Path(__file__).resolve().parents[2]


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: {
    suffix: (loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
             else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
             else loader.construct_mapping(node))})
TEMPLATE = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)


@pytest.fixture
def emitted(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    """The metric names of the EMF lines printed while the test runs."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")

    def names() -> list[str]:
        found = []
        for line in capsys.readouterr().out.splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            for directive in record.get("_aws", {}).get("CloudWatchMetrics", []):
                assert directive["Namespace"] == "MangaAssist"
                assert record.get("service") == "mangaassist"
                found += [metric["Name"] for metric in directive["Metrics"]]
        return found

    return names


def test_an_answer_counts_one_reply(emitted):
    handle_frame(body(), False, "conn-1", FakePorts(answer=ANSWER).ports())
    assert emitted() == ["ChatReplies", "ChatReplies.answer"]


def test_a_timeout_counts_the_timeout_and_a_fallback_reply(emitted):
    handle_frame(body(), False, "conn-1", FakePorts(run_error=TurnTimeoutError("deadline")).ports())
    names = emitted()
    assert "TurnTimeouts" in names and "ChatReplies.fallback" in names


def test_lost_posts_and_records_are_counted_by_kind(emitted):
    handle_frame(body(), False, "conn-1", FakePorts(answer=ANSWER, gone=True).ports())
    assert "ReplyPostFailures.gone" in emitted()
    handle_frame(body(), False, "conn-1", FakePorts(answer=ANSWER, reply_error=RuntimeError("network")).ports())
    assert "ReplyPostFailures.error" in emitted()
    handle_frame(body(), False, "conn-1", FakePorts(answer=ANSWER, record_error=RuntimeError("SQS down")).ports())
    assert "SessionEnqueueFailures" in emitted()


def _alarmed_metrics() -> dict[str, set[str]]:
    watched: dict[str, set[str]] = {}
    for name, resource in TEMPLATE["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        stats = [props] + [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
        for stat in stats:
            if stat.get("Namespace") == "MangaAssist":
                assert {"Name": "service", "Value": "mangaassist"} in stat["Dimensions"], name
                watched.setdefault(name, set()).add(stat["MetricName"])
    return watched


def test_every_loss_has_an_alarm_on_a_metric_the_code_emits():
    watched = _alarmed_metrics()
    alarmed = set().union(*watched.values())
    assert {"ChatReplies", "ChatReplies.fallback", "TurnTimeouts", "ReplyPostFailures.error",
            "SessionEnqueueFailures"} <= alarmed
    source = (ROOT / "shared" / "mangaassist" / "telemetry.py").read_text()
    counted = set(re.findall(r'_count\("(\w+)"', source))  # each also emitted as `name.kind`
    assert {metric.split(".")[0] for metric in alarmed} <= counted, f"alarms on metrics nothing emits: {alarmed}"
    for name in watched:
        assert TEMPLATE["Resources"][name]["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_prod_needs_an_alarm_subscriber():
    rule = TEMPLATE["Rules"]["ProdHasAlarmSubscriber"]
    assert rule["RuleCondition"] == {"Equals": [{"Ref": "Stage"}, "prod"]}
    assertion = json.dumps(rule["Assertions"])
    assert "AlarmEmail" in assertion and "AlarmSubscriberUrl" in assertion
