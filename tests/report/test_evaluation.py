"""Evaluation renderers: the report's own Chinese wording, English labels, truncated percentages."""

from __future__ import annotations

import json

from slaprobe.report.evaluation import render_evaluation
from slaprobe.sla.evaluation import evaluate
from slaprobe.sla.periods import Month
from tests.sla.money_data import avail
from tests.sla.test_evaluation import PLAN, TERMINALS

JAN = Month(2022, 1)


def _ev(available: int, unavailable: int):  # type: ignore[no-untyped-def]
    return evaluate(PLAN, TERMINALS, {JAN: {"P1": avail("P1", JAN, available, unavailable)}}, 2022)


def test_chinese_labels_match_the_report() -> None:
    out = render_evaluation(_ev(900, 100), "table", "zh")
    for text in (
        "2022年度项目绩效评价 产出指标",
        "产出数量：省、市县、乡镇垂直终端覆盖率",
        "产出质量：视频会议通信链路可用性",
        "全省开通终端服务数量",
        "各层级终端覆盖率（截至2022-12-31）",
    ):
        assert text in out
    cov = next(line for line in out.splitlines() if "垂直终端覆盖率" in line)
    assert cov.split()[-3:] == ["90%", "85.71%", "否"]  # 30 / 35 open, target 90 %
    avail_line = next(line for line in out.splitlines() if "通信链路可用性" in line and "≥" in line)
    assert avail_line.split()[-2:] == ["90.00%", "是"]  # exactly 90 %: met


def test_english_and_truncation() -> None:
    # 89,996 / 100,000 = 89.996 %: printed 89.99 % and not met (rounding would have shown 90.00 %).
    out = render_evaluation(_ev(89996, 10004), "markdown", "en")
    assert "| Output quality: video-conference link availability | ≥ 90% | 89.99% | no |" in out
    assert (
        "| Output quantity: terminal coverage rate (province, city/county, township) | ≥ 90% | 85.71% | no |"
        in out
    )
    assert "| Province | province venue, provincial department | 10 | 9 | 90.00% | plan | yes |" in out


def test_json_and_csv() -> None:
    data = json.loads(render_evaluation(_ev(900, 100), "json"))
    assert data["coverage"]["met"] is False and data["coverage"]["total"]["rate_percent"] == "85.714285"
    assert data["availability"]["rate_percent"] == "90.000000" and data["availability"]["met"] is True
    assert data["open_terminals"]["total"] == 33 and data["months"] == ["2022-01"]
    csv_text = render_evaluation(_ev(900, 100), "csv", "en")
    assert "# Indicators\nIndicator,Target,Actual,Met\n" in csv_text


def test_insufficient_data_is_never_shown_as_met() -> None:
    # The default plan wants 90 % of the year measured; P1's January (1,000 s) is nowhere near.
    from slaprobe.sla.contract_config import EvaluationPlan

    ev = evaluate(
        EvaluationPlan(groups=PLAN.groups), TERMINALS, {JAN: {"P1": avail("P1", JAN, 900, 100)}}, 2022
    )
    zh = render_evaluation(ev, "table", "zh")
    line = next(x for x in zh.splitlines() if "通信链路可用性" in x and "≥" in x)
    assert line.split()[-2:] == ["90.00%", "数据不足"]
    assert "测量覆盖率" in zh
    en = render_evaluation(ev, "markdown", "en")
    assert "| Output quality: video-conference link availability | ≥ 90% | 90.00% | insufficient data |" in en
    data = json.loads(render_evaluation(ev, "json"))
    assert (data["availability"]["status"], data["availability"]["met"]) == ("insufficient_data", None)
