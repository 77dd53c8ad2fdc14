"""The whole evaluation: the seed's 2022 scores reproduced, missing figures never met, the scoring rule by
hand, the report's grade bands, and the inputs file's exact errors.

Expectations are the 2022 evaluation report's own figures (shared/seed/evaluation-report-2022.txt) or
hand arithmetic, never the code under test.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from slaprobe.configload import ConfigError
from slaprobe.inventory import load_inventory
from slaprobe.settle import evaluation_result, load_inputs
from slaprobe.sla.contract import billable_days
from slaprobe.sla.evaluation_inputs import load_evaluation_inputs
from slaprobe.sla.periods import Period
from slaprobe.sla.scorecard import Status, proportional
from slaprobe.sla.scorecard_frame import grade_of
from tests.sla.money_data import avail

CONTRACT, INVENTORY = "config/contract.example.yaml", "config/terminals.example.csv"
SEED_INPUTS = "config/evaluation-inputs.example.yaml"

# The report's scores, 三、综合评价情况, typed from the seed by hand.
SEED_SCORES = {
    "decision.goal.content": 4,  # 目标内容：4分
    "decision.process.basis": 3,  # 决策依据：3分
    "decision.process.procedure": 5,  # 决策程序：5分
    "decision.allocation.method": 2,  # 分配方法：2分
    "decision.allocation.result": 6,  # 分配结果：6分
    "management.funds.rate": 3,  # 到位率：3分
    "management.funds.timeliness": 2,  # 到位时效：2分
    "management.use.use": 7,  # 资金使用：7分
    "management.use.finance": 3,  # 财务管理：3分
    "management.org.structure": 1,  # 组织机构：1分
    "management.org.rules": 9,  # 管理制度：9分
    "performance.output.quantity": 5,  # 产出数量：5分
    "performance.output.quality": 4,  # 产出质量：4分
    "performance.output.timeliness": 3,  # 产出时效：3分
    "performance.output.cost": 3,  # 产出成本：3分
    "performance.benefit.economic": 8,  # 经济效益：8分
    "performance.benefit.social": 8,  # 社会效益：8分
    "performance.benefit.environmental": 8,  # 环境效益：8分
    "performance.benefit.sustainable": 8,  # 可持续影响：8分
    "performance.benefit.satisfaction": 6,  # 服务对象满意度：6分
}


def _measured_year(bad_premium: int = 4) -> dict:  # type: ignore[type-arg]
    """Every terminal of the example network measured all year, fully available, except ``bad_premium``
    premium terminals at 80 % in December (50 % of 3,000.00 each, the terminal cap: 1,500.00 each). Four
    of them bring the year's fee, 21,005,586.53 when nothing is deducted, under the 21,000,000 budget."""
    terminals = load_inventory(INVENTORY).terminals
    bad = {t.id for t in terminals if t.tier == "premium"}
    bad = set(sorted(bad)[:bad_premium])
    data = {}
    for m in Period.year(2022).months:
        month = {}
        for t in terminals:
            s = billable_days(t, m) * 86_400
            if s:
                down = s // 5 if (m.month == 12 and t.id in bad) else 0
                month[t.id] = avail(t.id, m, s - down, down)
        data[m] = month
    return data


@pytest.fixture(scope="module")
def seed_year():  # type: ignore[no-untyped-def]
    inputs = load_inputs(CONTRACT, INVENTORY, _measured_year())
    return evaluation_result(inputs, 2022, SEED_INPUTS)


def test_the_seed_scores_98_excellent(seed_year) -> None:  # type: ignore[no-untyped-def]
    ev, sc, source = seed_year
    assert source == SEED_INPUTS
    # 目前全省按实际需要已逐步开通合计1820个服务点位; 省、市县、乡镇政府终端覆盖率达到100%
    assert ev.open_terminals == 1820
    assert [c.rate for c in ev.coverage if c.in_target] == [100, 100, 100] and ev.coverage_met
    # 项目决策：20分, 项目管理：25分, 项目绩效：53分 -> 综合得分98分, 总体评价为优
    assert [(p.part.code, p.points) for p in sc.parts] == [
        ("decision", 20),
        ("management", 25),
        ("performance", 53),
    ]
    assert (sc.total, sc.whole, sc.grade.name.zh, sc.complete) == (98, 98, "优秀", True)
    got = {ln.indicator.code: ln.points for ln in sc.lines if ln.weight > 0}
    assert got == SEED_SCORES
    # the three measured indicators were computed, not reviewed
    by_code = {ln.indicator.code: ln for ln in sc.lines}
    for code in ("performance.output.quantity", "performance.output.quality", "performance.output.cost"):
        assert by_code[code].status is Status.MET and by_code[code].source.startswith("measured")
    # 到位率 = 2100万 / 2100万; 预算执行率 = 2100万 / 2100万 (shown, not scored: the report has no line)
    assert by_code["management.funds.rate"].actual == 100
    execution = by_code["management.use.execution"]
    assert (execution.actual, execution.weight, execution.status) == (100, 0, Status.MET)


def test_budget_indicator_follows_the_money(tmp_path: Path) -> None:
    # Nothing deducted: the year's fee 21,005,586.53 exceeds the budget by 5,586.53 -> not met, and the
    # cost points are cut in proportion (3 x 21,000,000 / 21,005,586.53), never "未超预算 是".
    inputs = load_inputs(CONTRACT, INVENTORY, _measured_year(bad_premium=0))
    ev, sc, _ = evaluation_result(inputs, 2022, SEED_INPUTS)
    assert (ev.year_net, ev.cost_status) == (Decimal("21005586.53"), "not_met")
    cost = next(ln for ln in sc.lines if ln.indicator.code == "performance.output.cost")
    assert cost.status is Status.NOT_MET
    assert cost.points == Fraction(3 * 21_000_000_00, 21_005_586_53)
    assert "超出预算 5586.53" in cost.basis.zh
    # With zero measurements the same money is owed but cannot be judged: insufficient data, no points.
    ev, sc, _ = evaluation_result(load_inputs(CONTRACT, INVENTORY, {}), 2022, SEED_INPUTS)
    cost = next(ln for ln in sc.lines if ln.indicator.code == "performance.output.cost")
    assert (ev.within_budget, cost.status, cost.points) == (None, Status.INSUFFICIENT, None)


def test_missing_inputs_are_missing_and_earn_nothing() -> None:
    # No inputs file, nothing measured: only the coverage (5 points, from the inventory) can be scored.
    _, sc, source = evaluation_result(load_inputs(CONTRACT, INVENTORY, {}), 2022)
    assert source == ""
    awarded = {ln.indicator.code: ln.points for ln in sc.lines if ln.points is not None and ln.weight > 0}
    assert awarded == {"performance.output.quantity": 5}
    statuses = {ln.indicator.code: ln.status for ln in sc.lines}
    assert statuses["performance.benefit.satisfaction"] is Status.MISSING
    assert statuses["management.funds.rate"] is Status.MISSING
    assert statuses["performance.output.quality"] is Status.INSUFFICIENT
    assert (sc.total, sc.missing, sc.complete, sc.grade.name.zh) == (5, 95, False, "不合格")


@pytest.mark.parametrize(
    ("actual", "target", "at_least", "points"),
    [
        (Fraction(100), Fraction(90), True, Fraction(4)),  # over the target: full, no bonus
        (Fraction(90), Fraction(90), True, Fraction(4)),  # exactly the target: met
        (Fraction(81), Fraction(90), True, Fraction(18, 5)),  # 4 x 81 / 90 = 3.6
        (Fraction(0), Fraction(90), True, Fraction(0)),
        (Fraction(110), Fraction(100), False, Fraction(40, 11)),  # ceiling: 4 x 100 / 110
        (Fraction(100), Fraction(100), False, Fraction(4)),
    ],
)
def test_proportional_rule(actual: Fraction, target: Fraction, at_least: bool, points: Fraction) -> None:
    assert proportional(Decimal(4), actual, target, at_least) == points


@pytest.mark.parametrize(
    ("whole", "grade"),
    [
        (100, "优秀"),
        (90, "优秀"),
        (89, "良好"),
        (80, "良好"),
        (79, "合格"),
        (60, "合格"),
        (59, "不合格"),
        (0, "不合格"),
    ],
)
def test_grade_bands_of_the_report(whole: int, grade: str) -> None:
    # 优秀（90-100分）、良好（80-89分）、合格（60-79分）、不合格（59分及以下）
    assert grade_of(whole).name.zh == grade


def test_survey_counts_and_half_points_round_up(tmp_path: Path) -> None:
    # 204 of 240 satisfied = 85 %: met, 8 points. 到位率 10,500,000 / 21,000,000 = 50 % -> 3 x 0.5 = 1.5
    # points. With coverage's 5: 14.5, rounded half up to 15 (得分取整分; half-even would say 14).
    path = tmp_path / "in.yaml"
    path.write_text(
        "year: 2022\nfunds: {received: '10500000.00'}\nsatisfaction: {count: 204, of: 240}\n",
        encoding="utf-8",
    )
    _, sc, _ = evaluation_result(load_inputs(CONTRACT, INVENTORY, {}), 2022, path)
    lines = {ln.indicator.code: ln for ln in sc.lines}
    survey = lines["performance.benefit.satisfaction"]
    assert (survey.actual, survey.status, survey.points) == (85, Status.MET, 8)
    funds = lines["management.funds.rate"]
    assert (funds.actual, funds.status, funds.points) == (50, Status.NOT_MET, Fraction(3, 2))
    assert (sc.total, sc.whole, sc.grade.name.zh) == (Fraction(29, 2), 15, "不合格")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("year: 2022\nfunds: {budget: 21000000.5}\n", "funds.budget: money must be written as a string"),
        (
            "year: 2022\nreviews: {performance.benefit.social: {score: '9'}}\n",
            "reviews.performance.benefit.social.score: 9 is outside 0..8 (its points)",
        ),
        (
            "year: 2022\nreviews: {performance.output.quality: {score: '4'}}\n",
            "reviews.performance.output.quality: measured by slaprobe",
        ),
        ("year: 2022\nreviews: {nope: {score: '1'}}\n", "reviews.nope: unknown indicator"),
        (
            "year: 2022\nsatisfaction: {percent: '90', count: 1, of: 2}\n",
            "satisfaction: give percent or count/of",
        ),
        ("year: 2022\nsatisfaction: {count: 3, of: 2}\n", "satisfaction.count: 3 is more than of (2)"),
        (
            "year: 2022\nsatisfaction: {percent: '96'}\n"
            "reviews: {performance.benefit.satisfaction: {score: '6'}}\n",
            "reviews.performance.benefit.satisfaction: the file also gives its data",
        ),
        (
            "year: 2022\nplatform: {availability_percent: '101'}\n",
            "platform.availability_percent: 101 is not",
        ),
        (
            "year: 2022\nweights: {performance.benefit.satisfaction: '6'}\n",
            "weights: the indicators' points add up to 98",
        ),
        ("year: 2022\nfunds: {received_on: 2022-01-05}\n", "funds: received_on and due_by go together"),
        ("year: 2022\nsurvey: {}\n", "survey: unknown key"),
    ],
)
def test_inputs_errors_name_file_and_key(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_evaluation_inputs(path)
    assert f"{path}: {problem}" in str(err.value)


def test_inputs_must_match_the_year_and_the_contract_budget(tmp_path: Path) -> None:
    path = tmp_path / "in.yaml"
    path.write_text("year: 2021\nfunds: {budget: '20000000.00'}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        evaluation_result(load_inputs(CONTRACT, INVENTORY, {}), 2022, path)
    assert f"{path}: year: 2021, but the evaluation is for 2022" in str(err.value)
    assert f"{path}: funds.budget: 20000000.00 differs from {CONTRACT} payments.budget 21000000.00" in str(
        err.value
    )


def test_funds_on_time_is_all_or_nothing(tmp_path: Path) -> None:
    path = tmp_path / "in.yaml"
    for received, points in (("2022-03-31", 2), ("2022-04-01", 0)):
        path.write_text(
            f"year: 2022\nfunds: {{received_on: {received}, due_by: 2022-03-31}}\n", encoding="utf-8"
        )
        _, sc, _ = evaluation_result(load_inputs(CONTRACT, INVENTORY, {}), 2022, path)
        line = next(ln for ln in sc.lines if ln.indicator.code == "management.funds.timeliness")
        assert (line.points, line.actual) == (points, dt.date.fromisoformat(received))
