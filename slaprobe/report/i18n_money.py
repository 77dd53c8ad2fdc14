"""Labels of the reconciliation and evaluation reports, in English and Chinese.

The Chinese indicator names follow the province's 2022 performance evaluation report word for word
(产出数量 / 产出质量 / 产出成本, 垂直终端覆盖率, 通信链路可用性), so a generated table can be set beside it.
"""

from __future__ import annotations

from slaprobe.terminal import Level

LANGS = ("zh", "en")

_LABELS: dict[str, tuple[str, str]] = {
    # reconciliation
    "fees": ("Fee listing per terminal", "终端服务费明细"),
    "fee.month": ("Month", "月份"),
    "fee.terminal": ("Terminal", "终端"),
    "fee.carrier": ("Carrier", "运营商"),
    "fee.tier": ("Tier", "档次"),
    "fee.version": ("Rules version", "价目版本"),
    "fee.billed_from": ("Billed from", "计费起"),
    "fee.billed_to": ("Billed to", "计费止"),
    "fee.days": ("Days", "计费天数"),
    "fee.unit_price": ("Unit price / month", "月单价"),
    "fee.gross": ("Gross fee", "应付服务费"),
    "fee.deducted": ("Deductions", "扣减"),
    "fee.net": ("Net fee", "实付服务费"),
    "fee.deduction_reasons": ("Deductions and reasons", "扣减项及原因"),
    "reason.year_end": (
        "year-end count on {day}: annual {annual} - prorated {prorated}",
        "按{day}开通数核算：全年 {annual} - 按天计 {prorated}",
    ),
    "note.versions": (
        "Contract rules change on {days}: a month spanning such a day is billed in slices, each under its "
        "own rules (see the per-terminal fee listing).",
        "合同价目于 {days} 变更：跨越变更日的月份分段计费，各段按其适用价目计算（见终端服务费明细）。",
    ),
    "note.count_on_day": (
        "Year end: the year's total is the count of terminals open on {day} x 12 x the monthly unit price; "
        "December carries the difference from the day-prorated fees (year-end adjustment).",
        "年末按 {day} 开通终端数 x 12 x 月单价核算全年服务费总价；与按天计费之差计入12月（年末核算调整）。",
    ),
    "year_end_adjustment": ("Year-end count adjustment", "年末开通数核算调整"),
    "province": ("Province: all signed contracts", "全省：各分签合同合计"),
    "contract": ("Contract", "合同"),
    "signer": ("Signer", "签约方"),
    "contract_part": ("Contract {id}", "合同 {id}"),
    "outstanding": ("Outstanding after later payments", "计入期后支付后余额"),
    "balance_treatment": ("Negative balance", "负余额处理"),
    "treatment.due": ("due", "应付"),
    "treatment.refund": ("refunded by the carrier", "运营商退还"),
    "treatment.offset": ("offset against the next payment", "抵扣下期付款"),
    "rounding_difference": ("Rounding difference (within tolerance){tol}", "舍入差额（容差内）{tol}"),
    "disc.rounding_difference": ("rounding difference (within tolerance)", "舍入差额（容差内）"),
    "overbilled": ("Over-billed", "多计"),
    "underbilled": ("Under-billed", "少计"),
    "invoice_totals": ("Invoice differences by carrier", "按运营商账单差额"),
    "reconcile.title": ("Reconciliation {period}: {contract}", "{contract} 对账 {period}"),
    "summary": ("Settlement by carrier", "按运营商结算"),
    "by_tier": ("Billable terminal-days by tier", "按档次计费终端天数"),
    "deductions": ("Deductions and their reasons", "扣减明细及原因"),
    "payments": ("Installments and balance", "分期付款及余额"),
    "price_basis": ("Unit price basis (open terminals province-wide)", "服务单价依据（全省开通终端数）"),
    "discrepancies": ("Invoice discrepancies: {source}", "账单差异：{source}"),
    "carrier": ("Carrier", "运营商"),
    "tier": ("Tier", "档次"),
    "terminals": ("Terminals", "终端数"),
    "terminal_days": ("Terminal-days", "终端天数"),
    "unit_price": ("Unit price / month", "月单价"),
    "gross": ("Gross fee", "应付服务费"),
    "deducted": ("Deductions", "扣减"),
    "terminal_deducted": ("Terminal deductions (before carrier cap)", "终端扣减（运营商上限前）"),
    "net": ("Net fee", "实付服务费"),
    "net_ytd": ("Net fee year to date", "年初至今实付服务费"),
    "paid_to_date": ("Paid to date", "已支付"),
    "balance_due": ("Balance due", "应付余额"),
    "unjudged": ("Unjudged terminal-months", "无测量终端月"),
    "month": ("Month", "月份"),
    "count_day": ("Count day", "计数日"),
    "open_terminals": ("Open terminals", "开通终端数"),
    "terminal": ("Terminal", "终端"),
    "kind": ("Kind", "类型"),
    "reason": ("Reason", "原因"),
    "amount": ("Amount", "金额"),
    "quarter": ("Quarter paid", "支付季度"),
    "paid_on": ("Paid on", "支付日期"),
    "note": ("Note", "说明"),
    "budget": ("Budget", "预算"),
    "budget_remaining": ("Budget remaining", "预算余额"),
    "paid_later": ("Recorded after the period", "期后已记录支付"),
    "total": ("Total", "合计"),
    "line": ("Line", "行"),
    "billed": ("Billed", "账单值"),
    "expected": ("Expected", "核定值"),
    "kind.availability": ("availability", "可用性扣减"),
    "kind.incident": ("incident", "故障扣减"),
    "kind.terminal_cap": ("terminal cap", "单终端上限"),
    "kind.carrier_cap": ("carrier cap", "运营商上限"),
    "kind.unmeasured_unavailable": ("unmeasured counted unavailable", "未测量按不可用计"),
    "kind.unmeasured_withheld": ("unmeasured withheld", "未测量暂扣"),
    "reason.unmeasured_unavailable": (
        "measured below the minimum; unmeasured time counted unavailable: availability {avail} % in "
        "[{lo}, {hi}) -> {pct} % of the month's fee {fee}",
        "测量覆盖不足，未测量时长按不可用计：可用性 {avail}%，"
        "处于 [{lo}, {hi}) 区间，扣减当月服务费 {fee} 的 {pct}%",
    ),
    "reason.unmeasured_withheld": (
        "measured below the minimum: the fee share of unmeasured time withheld, "
        "{share} % of the month's fee {fee}",
        "测量覆盖不足：暂扣未测量时长对应的服务费，为当月服务费 {fee} 的 {share}%",
    ),
    "unmeasured": (
        "Unmeasured time (minimum measured share {pct} % per terminal-month)",
        "未测量时长（每终端月最低测量覆盖率 {pct}%）",
    ),
    "settled_as": ("Settled as", "处理方式"),
    "terminal_months": ("Terminal-months", "终端月"),
    "unmeasured_days": ("Unmeasured terminal-days", "未测量终端天数"),
    "unmeasured.pay": ("below minimum: paid", "覆盖不足：照付"),
    "unmeasured.withhold": ("below minimum: withheld", "覆盖不足：暂扣"),
    "unmeasured.count_unavailable": ("below minimum: counted unavailable", "覆盖不足：按不可用计"),
    "unmeasured.within_minimum": ("above minimum: remainder paid", "覆盖达标：余量照付"),
    "note.unmeasured": (
        "A terminal-month is settled on its measurements when at least {pct} % of its in-service time "
        "(minus maintenance) was measured; below that it is settled as '{treatment}': {meaning}",
        "终端月在网时长（扣除维护）的测量覆盖率达到 {pct}% 时按实测结算；"
        "不足时按“{treatment}”处理：{meaning}",
    ),
    "note.unmeasured.pay": (
        "billed in full, no availability deduction; the amount shown is what was paid for unmeasured time.",
        "照常计费、不作可用性扣减；所列金额为未测量时长所付服务费。",
    ),
    "note.unmeasured.withhold": (
        "the fee share of its unmeasured time is withheld (outside the caps) until the service is proven.",
        "暂扣未测量时长对应的服务费（不受扣减上限限制），待服务核实后再付。",
    ),
    "note.unmeasured.count_unavailable": (
        "its unmeasured time counts as unavailable in its availability; the amount shown is that deduction.",
        "未测量时长计入不可用时长后计算可用性扣减；所列金额为该扣减。",
    ),
    "reason.availability": (
        "availability {avail} % in [{lo}, {hi}) -> {pct} % of the month's fee {fee}",
        "可用性 {avail}%，处于 [{lo}, {hi}) 区间，扣减当月服务费 {fee} 的 {pct}%",
    ),
    "reason.incident_amount": (
        "outage from {start}, {dur} > {hours} h -> {amount}",
        "{start} 起中断 {dur}，超过 {hours} 小时，扣减 {amount}",
    ),
    "reason.incident_percent": (
        "outage from {start}, {dur} > {hours} h -> {pct} % of the month's fee {fee}",
        "{start} 起中断 {dur}，超过 {hours} 小时，扣减当月服务费 {fee} 的 {pct}%",
    ),
    "reason.terminal_cap": (
        "capped at {pct} % of the terminal's monthly fee {fee}",
        "单终端月扣减不超过月服务费 {fee} 的 {pct}%",
    ),
    "reason.carrier_cap": (
        "capped at {pct} % of the carrier's gross fee for the month {fee}",
        "运营商月扣减不超过当月应付服务费 {fee} 的 {pct}%",
    ),
    "duration": ("{h} h {m:02d} min", "{h}小时{m:02d}分"),
    "note.rounding": (
        "Amounts in {currency}, computed exactly. Each carrier's gross fee and deductions are rounded to "
        "{quantum} ({mode}) as year-to-date figures; a period's figure = rounded year to date at its end - "
        "rounded year to date before it, so periods add up exactly to the year; net = gross - deductions; "
        "totals add the carriers' figures. Detail lines are each rounded on their own and may not add up "
        "to the carrier's figure exactly.",
        "金额单位：{currency}，按精确值计算。"
        "各运营商应付服务费与扣减额按年初至今累计值舍入（精确到 {quantum}，{mode}），"
        "本期金额 = 期末累计舍入值 - 期初累计舍入值，各期之和恰等于全年；实付 = 应付 - 扣减；"
        "合计为各运营商金额之和。明细行各自舍入，其和与运营商金额可能略有差异。",
    ),
    "note.balance": (
        "Balance due = net fee from January to {end} - installments paid up to {end}; "
        "negative: paid in advance of the service measured so far.",
        "应付余额 = 1月至{end}实付服务费 - 截至{end}已付分期款；负数表示已提前支付。",
    ),
    "note.price_basis": (
        "Unit prices follow the volume band chosen by the open-terminal count on the count day.",
        "服务单价按计数日全省开通终端数量所对应的档位确定。",
    ),
    "note.unjudged": (
        "{n} terminal-month(s) were measured below the minimum share (or not at all): no availability "
        "deduction from their figures (see the unmeasured-time table).",
        "{n} 个终端月测量覆盖不足（或无测量）：不据其数据作可用性扣减（见未测量时长表）。",
    ),
    "mode.half_up": ("half up", "四舍五入"),
    "mode.half_even": ("half to even", "银行家舍入"),
    "mode.down": ("toward zero", "截尾"),
    # discrepancy kinds
    "disc.not_in_inventory": ("billed terminal not in the inventory", "账单终端不在台账中"),
    "disc.duplicate": ("billed twice", "重复计费"),
    "disc.wrong_carrier": ("billed by a carrier that does not carry it", "非该运营商承载的终端"),
    "disc.unknown_carrier": ("carrier not in the contract", "合同中无此运营商"),
    "disc.tier_mismatch": ("tier differs from the inventory", "档次与台账不符"),
    "disc.outside_period": ("billed dates outside the period", "计费日期超出对账期"),
    "disc.billed_before_opening": ("billed before opening", "开通前计费"),
    "disc.billed_after_retirement": ("billed after retirement", "撤销后计费"),
    "disc.never_answered": (
        "never answered a probe in the period (no available interval)",
        "期内从未响应探测（无可用时段）",
    ),
    "disc.not_measured": (
        "never measured in the period (service unconfirmed)",
        "期内无测量数据（服务未能核实）",
    ),
    "disc.days_mismatch": ("terminal-days differ", "终端天数不符"),
    "disc.count_mismatch": ("terminal count differs", "终端数量不符"),
    "disc.amount_mismatch": ("amount differs", "金额不符"),
    "disc.not_billed": ("in service but not billed", "在用但未计费"),
    "disc.none": ("no discrepancy", "无差异"),
    # evaluation
    "eval.title": ("{year} performance evaluation: output indicators", "{year}年度项目绩效评价 产出指标"),
    "eval.indicators": ("Indicators", "指标"),
    "eval.coverage": ("Coverage by level (as of {as_of})", "各层级终端覆盖率（截至{as_of}）"),
    "eval.availability_by_group": ("Link availability by level", "各层级通信链路可用性"),
    "eval.open": ("Open terminals (as of {as_of})", "开通终端数量（截至{as_of}）"),
    "indicator": ("Indicator", "指标"),
    "target": ("Target", "指标值"),
    "actual": ("Actual", "实际完成值"),
    "met": ("Met", "是否达标"),
    "yes": ("yes", "是"),
    "no": ("no", "否"),
    "na": ("n/a", "不适用"),
    "insufficient": ("insufficient data", "数据不足"),
    "measured_share": ("Measured share", "测量覆盖率"),
    "cost_actual": ("paid {paid}; year's fee {net}", "已付 {paid}；全年服务费 {net}"),
    "note.eval_measured": (
        "Availability is met only when at least {minimum} % of the year's in-service time (minus "
        "maintenance) was measured; measured: {share}. Below that: insufficient data, never met. The cost "
        "indicator compares the year's fee (after deductions and the contract's unmeasured treatment) with "
        "the budget; it needs the same measured share unless even the gross fee fits the budget.",
        "仅当全年在网时长（扣除维护）的测量覆盖率达到 {minimum}% 时方可判定可用性达标；实际覆盖率：{share}。"
        "不足时为“数据不足”，不判为达标。成本指标以全年服务费（扣减及未测量处理后）对比预算；"
        "除非未扣减的应付服务费也不超预算，否则同样需要达到该覆盖率。",
    ),
    "ind.coverage": (
        "Output quantity: terminal coverage rate (province, city/county, township)",
        "产出数量：省、市县、乡镇垂直终端覆盖率",
    ),
    "ind.availability": (
        "Output quality: video-conference link availability",
        "产出质量：视频会议通信链路可用性",
    ),
    "ind.open": ("Open terminals province-wide", "全省开通终端服务数量"),
    "ind.cost": ("Output cost: paid within the budget", "产出成本：未超项目预算"),
    "level_group": ("Level", "层级"),
    "group.province": ("Province", "省级"),
    "group.city": ("City/county", "市县"),
    "group.township": ("Township", "乡镇"),
    "group.village": ("Village", "行政村"),
    "planned": ("Planned", "计划数"),
    "open": ("Open", "开通数"),
    "rate": ("Coverage", "覆盖率"),
    "planned_from": ("Planned from", "计划数来源"),
    "from_plan": ("plan", "计划"),
    "from_inventory": ("inventory", "台账"),
    "in_target": ("judged", "纳入考核"),
    "availability": ("Availability", "可用性"),
    "measured": ("Measured (h)", "有效测量时长（小时）"),
    "unknown": ("Unknown (h)", "未知时长（小时）"),
    "by_carrier": ("By carrier", "按运营商"),
    "by_level": ("By level", "按层级"),
    "note.eval_months": (
        "Availability from {n} of 12 months of {year} ({months}).",
        "可用性基于{year}年12个月中的{n}个月（{months}）。",
    ),
    "note.eval_definitions": (
        "Coverage = open / planned terminals; availability = available / "
        "(in service - maintenance - unknown), interval-weighted over all terminals; "
        "percentages are truncated, never rounded up past a target.",
        "覆盖率 = 开通终端数 / 计划终端数；可用性 = 可用时长 /（在网时长 - 维护时长 - 未知时长），"
        "按全部终端时长加权；百分比截尾显示，不会向上舍入越过指标值。",
    ),
    "note.eval_unmeasured": (
        "User satisfaction (>= 85 %) comes from a survey and is not measured here.",
        "满意度指标（≥85%）来自用户调查，本工具不测量。",
    ),
}

LEVEL_NAMES: dict[Level, tuple[str, str]] = {
    Level.PROVINCE: ("province venue", "省级会场"),
    Level.PROVINCE_DEPT: ("provincial department", "省直部门会场"),
    Level.CITY: ("city/county venue", "市县会场"),
    Level.CITY_DEPT: ("city/county department", "市县部门会场"),
    Level.TOWNSHIP: ("township", "乡镇会场"),
    Level.VILLAGE: ("village", "行政村会场"),
}


def label(key: str, lang: str, **values: object) -> str:
    """The label in ``lang`` ("zh" or "en"), formatted with ``values``; an unknown key shows itself."""
    en, zh = _LABELS.get(key, (key, key))
    return (zh if lang == "zh" else en).format(**values)


def group_name(group: str, lang: str, own: str = "") -> str:
    """A coverage group's name: its own label from the contract, else a built-in one, else its id."""
    if own:
        return own
    key = f"group.{group}"
    return label(key, lang) if key in _LABELS else group


def level_name(level: Level, lang: str) -> str:
    en, zh = LEVEL_NAMES[level]
    return zh if lang == "zh" else en
