"""Labels of the evaluation scorecard (every indicator, part scores, grade) and its spreadsheet, zh / en.

Kept apart from ``i18n_money`` (the reconciliation's labels) so the two reports can change independently.
Chinese wording follows the 2022 evaluation report (项目决策 / 项目管理 / 项目绩效, 得分取整分, 优秀 ...).
"""

from __future__ import annotations

_LABELS: dict[str, tuple[str, str]] = {
    "sc.doc_title": ("{year} performance evaluation", "{year}年度项目支出绩效评价"),
    "sc.title": ("Scorecard: every indicator", "绩效评价评分表（全部指标）"),
    "sc.parts": ("Part scores and grade", "各部分得分及评价等级"),
    "sc.part": ("Part", "一级指标"),
    "sc.group": ("Group", "二级指标"),
    "sc.indicator": ("Indicator", "三级指标"),
    "sc.code": ("Code", "代码"),
    "sc.weight": ("Points", "分值"),
    "sc.target": ("Target", "指标值"),
    "sc.actual": ("Actual", "实际完成值"),
    "sc.points": ("Score", "得分"),
    "sc.status": ("Status", "状态"),
    "sc.source": ("Source", "来源"),
    "sc.basis": ("Basis", "依据"),
    "sc.seed": ("2022 report", "2022年报告得分"),
    "sc.missing_points": ("Points missing", "缺失分值"),
    "sc.total": ("Total", "合计"),
    "sc.whole": ("Score (whole points)", "综合得分（取整）"),
    "sc.grade": ("Grade", "评价等级"),
    "sc.complete": ("Complete", "数据完整"),
    "status.met": ("met", "达标"),
    "status.not_met": ("not met", "未达标"),
    "status.reviewed": ("review score", "评审打分"),
    "status.missing": ("missing", "缺失"),
    "status.insufficient_data": ("insufficient data", "数据不足"),
    "source.measured": ("measured", "实测"),
    "source.measured+inputs": ("measured + inputs", "实测 + 填报"),
    "source.inputs": ("inputs file", "填报"),
    "source.review": ("review", "评审"),
    "source.": ("-", "-"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "missing": ("missing", "缺失"),
    "over_budget": ("{amount} over the budget", "超出预算 {amount}"),
    "note.sc_rule": (
        "Scoring: a figure meeting its target scores full points, below it points x actual / target "
        "(budget: points x budget / actual); funds on time: all or nothing; review indicators: the panel's "
        "score from the inputs file. A figure that cannot be computed is missing (or insufficient data): "
        "never met, and its points are not awarded. The total is rounded half up to whole points and "
        "graded: excellent 90-100, good 80-89, pass 60-79, fail 59 and below.",
        "计分规则：实际完成值达到指标值得满分，未达到按 实际完成值/指标值 × 分值 计分（预算类：预算/实际 × "
        "分值）；到位时效达标得满分，否则不得分；评审类指标取填报文件中的评审得分。无法计算的指标为"
        "“缺失”（或“数据不足”），不视为达标，不得分。总分四舍五入取整后评级：优秀（90-100分）、良好"
        "（80-89分）、合格（60-79分）、不合格（59分及以下）。",
    ),
    "note.sc_missing": (
        "{n} indicators ({points} points) are missing and not awarded: the grade is on incomplete data.",
        "{n}项指标（{points}分）缺失，未计分：评价等级基于不完整数据。",
    ),
    "note.sc_inputs": ("Inputs: {source}.", "填报数据：{source}。"),
    "note.sc_no_inputs": (
        "No inputs file (--inputs): every indicator not measured here is missing. "
        "A template to fill in: slaprobe evaluation --example-inputs.",
        "未提供填报文件（--inputs）：本工具不测量的指标均为缺失。"
        "填报模板：slaprobe evaluation --example-inputs。",
    ),
    "note.sc_weights": (
        "Points per indicator: the 2022 report prints scores only (98 of 100); 8 points are assumed for user "
        "satisfaction (scored 6), full marks elsewhere.",
        "各指标分值：2022年报告只列得分（98分）；假定服务对象满意度分值为8分（得6分），其余指标为满分。",
    ),
    "note.satisfaction": (
        "User satisfaction (>= 85 %) is a survey: it comes from the inputs file, never from measurements.",
        "满意度指标（≥85%）来自用户调查，取自填报文件，本工具不测量。",
    ),
    "sheet.scorecard": ("Scorecard", "评分表"),
    "sheet.parts": ("Parts and grade", "得分及等级"),
    "sheet.indicators": ("Output indicators", "产出指标"),
    "sheet.coverage": ("Coverage", "覆盖率"),
    "sheet.availability": ("Availability", "可用性"),
    "sheet.open": ("Open terminals", "开通终端"),
    "sheet.notes": ("Notes", "说明"),
}


def label(key: str, lang: str, **values: object) -> str:
    """The label in ``lang`` ("zh" or "en"), formatted with ``values``; an unknown key is a bug."""
    en, zh = _LABELS[key]
    return (zh if lang == "zh" else en).format(**values)
