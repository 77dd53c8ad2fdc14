"""The indicator table of the province's annual performance evaluation (绩效评价指标体系), as data.

Transcribed from the 2022 evaluation report (shared/seed): three parts — 项目决策, 项目管理, 项目绩效 —
their second-level groups and third-level indicators. The report prints the points each indicator
*scored* (20 / 25 / 53, total 98 of 100) but not each indicator's maximum. Every indicator is taken to
have scored full marks except 服务对象满意度: its 6 points are read as 6 of 8, the only place the two
missing points can sit that the report itself supports — it is the one indicator whose evidence (meeting
counts) does not address its target (a ≥ 85 % satisfaction survey), and it keeps the five 效益 indicators
at 8 points each. That split is an assumption; an inputs file may set other points (``weights``), as
long as they still add up to 100.

``kind`` says where an indicator's figure comes from:

* MEASURED — slaprobe computes it (coverage from the inventory, link availability from the probes, the
  year's fee from the contract); it cannot be scored by review.
* INPUT — a figure people supply in the inputs file (funds received, satisfaction survey ...), scored by
  the rule below; a review score may stand in when there is no figure.
* REVIEW — the review panel's judgement (决策依据, 管理制度, 经济效益 ...), a score from the inputs file.

Weight 0 marks a figure shown for completeness but not scored (预算执行率: the report's table has no
line for it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import Decimal

from slaprobe.sla.contract_config import Label


class Kind(enum.StrEnum):
    MEASURED = "measured"
    INPUT = "input"
    REVIEW = "review"


@dataclass(frozen=True, slots=True)
class Part:
    code: str
    name: Label


@dataclass(frozen=True, slots=True)
class Indicator:
    code: str
    part: str
    group: Label  # second level (项目目标, 决策过程 ...)
    name: Label  # third level
    weight: Decimal  # points (see the module doc)
    kind: Kind
    seed_score: Decimal | None  # what the 2022 report gave it (None: not in the report's table)


PARTS: tuple[Part, ...] = (
    Part("decision", Label("项目决策", "Decision")),
    Part("management", Label("项目管理", "Management")),
    Part("performance", Label("项目绩效", "Performance")),
)

_D, _M, _P = "decision", "management", "performance"
_GOAL = Label("项目目标", "Objectives")
_PROC = Label("决策过程", "Decision process")
_ALLOC = Label("资金分配", "Fund allocation")
_FUNDS = Label("资金到位", "Funds in place")
_USE = Label("资金管理", "Fund management")
_ORG = Label("组织实施", "Implementation")
_OUT = Label("项目产出", "Outputs")
_BEN = Label("项目效益", "Benefits")
M, IN, R = Kind.MEASURED, Kind.INPUT, Kind.REVIEW


def _ind(
    code: str, part: str, group: Label, zh: str, en: str, weight: str, kind: Kind, seed: str | None
) -> Indicator:
    return Indicator(
        code, part, group, Label(zh, en), Decimal(weight), kind, None if seed is None else Decimal(seed)
    )


_ALL = (
    _ind("decision.goal.content", _D, _GOAL, "目标内容", "Objective content", "4", R, "4"),
    _ind("decision.process.basis", _D, _PROC, "决策依据", "Decision basis", "3", R, "3"),
    _ind("decision.process.procedure", _D, _PROC, "决策程序", "Decision procedure", "5", R, "5"),
    _ind("decision.allocation.method", _D, _ALLOC, "分配方法", "Allocation method", "2", R, "2"),
    _ind("decision.allocation.result", _D, _ALLOC, "分配结果", "Allocation result", "6", R, "6"),
    _ind("management.funds.rate", _M, _FUNDS, "到位率", "Funds received rate", "3", IN, "3"),
    _ind("management.funds.timeliness", _M, _FUNDS, "到位时效", "Funds on time", "2", IN, "2"),
    _ind("management.use.use", _M, _USE, "资金使用", "Use of funds", "7", R, "7"),
    _ind("management.use.finance", _M, _USE, "财务管理", "Financial management", "3", R, "3"),
    _ind("management.use.execution", _M, _USE, "预算执行率", "Budget execution rate", "0", IN, None),
    _ind("management.org.structure", _M, _ORG, "组织机构", "Organisation", "1", R, "1"),
    _ind("management.org.rules", _M, _ORG, "管理制度", "Management rules", "9", R, "9"),
    _ind("performance.output.quantity", _P, _OUT, "产出数量", "Output quantity", "5", M, "5"),
    _ind("performance.output.quality", _P, _OUT, "产出质量", "Output quality", "4", M, "4"),
    _ind("performance.output.timeliness", _P, _OUT, "产出时效", "Output timeliness", "3", IN, "3"),
    _ind("performance.output.cost", _P, _OUT, "产出成本", "Output cost", "3", M, "3"),
    _ind("performance.benefit.economic", _P, _BEN, "经济效益", "Economic benefit", "8", R, "8"),
    _ind("performance.benefit.social", _P, _BEN, "社会效益", "Social benefit", "8", R, "8"),
    _ind("performance.benefit.environmental", _P, _BEN, "环境效益", "Environmental benefit", "8", R, "8"),
    _ind("performance.benefit.sustainable", _P, _BEN, "可持续影响", "Sustainability", "8", R, "8"),
    _ind("performance.benefit.satisfaction", _P, _BEN, "服务对象满意度", "User satisfaction", "8", IN, "6"),
)

FRAMEWORK: dict[str, Indicator] = {ind.code: ind for ind in _ALL}

# Targets of the indicators scored against a figure, where the report states them (绩效目标).
SATISFACTION_TARGET = Decimal(85)  # 满意度指标：系统用户满意度达到85%以上
TIMELINESS_TARGET = Decimal(100)  # assumed: everything due on time
FUNDS_RATE_TARGET = Decimal(100)  # assumed: the whole budget received
EXECUTION_TARGET = Decimal(100)  # assumed: the executable budget spent ("2022年完成全年预算总额支出")


@dataclass(frozen=True, slots=True)
class Grade:
    floor: int  # lowest whole score of the band
    name: Label


# 根据评价得分（得分取整分），将评价等级设定为优秀（90-100分）、良好（80-89分）、合格（60-79分）、
# 不合格（59分及以下）。
GRADES: tuple[Grade, ...] = (
    Grade(90, Label("优秀", "excellent")),
    Grade(80, Label("良好", "good")),
    Grade(60, Label("合格", "pass")),
    Grade(0, Label("不合格", "fail")),
)


def grade_of(whole_score: int) -> Grade:
    """The band of a whole score (the report grades the score rounded to whole points)."""
    return next(g for g in GRADES if whole_score >= g.floor)
