"""Labels of the HTML report (page, charts, captions) in Chinese and English.

Kept beside the money labels (``i18n_money``) rather than inside them: these are the page's own words.
The Chinese follows the wording of the province's documents where one exists (可用性, 扣减, 对账).
"""

from __future__ import annotations

LANGS = ("zh", "en")

_LABELS: dict[str, tuple[str, str]] = {
    "month.title": ("Video-conference link availability, {period}", "视频会议通信链路可用性月报 {period}"),
    "year.title": (
        "Video-conference link availability and evaluation, {year}",
        "{year}年度视频会议通信链路可用性及绩效评价",
    ),
    "subtitle": (
        "Period {first} to {last} ({tz}); generated {generated}",
        "统计期 {first} 至 {last}（{tz}）；生成时间 {generated}",
    ),
    "source": ("Samples from {source}", "数据来源：{source}"),
    "province": ("Province", "全省"),
    "headline": ("Headline figures", "主要指标"),
    "availability": ("Availability", "可用性"),
    "target": ("Target", "目标"),
    "met": ("met", "达标"),
    "not_met": ("below target", "未达标"),
    "no_data": ("no data", "无数据"),
    "measured_share": ("Measured share", "测量覆盖率"),
    "insufficient_data": ("Insufficient data (terminals)", "数据不足终端数"),
    "coverage_warning": (
        "WARNING: measured share {share} % of the in-service time (minimum {minimum} %); "
        "{n} of {total} terminals have insufficient data: no target is met or missed on their figures.",
        "警告：测量覆盖率为在网时长的 {share}%（最低要求 {minimum}%）；{total} 个终端中 {n} 个数据不足，"
        "不据此判定达标或未达标。",
    ),
    "terminals": ("Terminals", "终端数"),
    "outages": ("Outages", "中断次数"),
    "below_target": ("Terminals below target", "未达标终端数"),
    "unavailable": ("Unavailable", "不可用时长"),
    "unknown": ("Unknown (excluded)", "未知时长（不计入）"),
    "maintenance": ("Maintenance (excluded)", "维护时长（不计入）"),
    "worst": ("Worst terminal", "最差终端"),
    "gross": ("Gross fee", "应付服务费"),
    "deducted": ("Deductions", "扣减"),
    "net": ("Net fee", "实付服务费"),
    "carrier": ("Carrier", "运营商"),
    "region": ("Region", "区域"),
    "terminal": ("Terminal", "终端"),
    "start": ("Start", "开始"),
    "end": ("End", "结束"),
    "duration": ("Duration", "时长"),
    "hours": ("{h} h", "{h} 小时"),
    "rule.title": ("How availability is counted", "可用性计算规则"),
    "rule.body": (
        "Each terminal's month is cut into {interval} intervals. An interval whose probes lost more than "
        "{threshold} % of their packets is a high-loss interval. {n} high-loss intervals in a row make the "
        "terminal unavailable from the first of them; {n} good intervals in a row make it available again "
        "from the first good one (preset {preset}). Availability = available time / (time in service - "
        "maintenance - unknown).",
        "每个终端的统计期按 {interval} 划分为时段。某时段内探测丢包率超过 {threshold}% 即为高丢包时段；"
        "连续 {n} 个高丢包时段则自其中第一个时段起判为不可用，连续 {n} 个正常时段则自其中第一个时段起恢复可用"
        "（规则预设 {preset}）。可用性 = 可用时长 /（在网时长 - 维护时长 - 未知时长）。",
    ),
    "rule.unknown": (
        "Unknown time is time we could not judge: no probe was sent, the probe host sent no heartbeat, "
        "its reference targets failed, or most of its targets failed at once. It is neither counted as "
        "available nor as unavailable, and is reported here: {unknown} in total. With maintenance, {share} "
        "of the terminals' time in service was not judged.",
        "未知时长指无法判定的时间：未发出探测、探测主机无心跳、其参照目标失败，或其大部分目标同时失败。"
        "未知时长既不计为可用，也不计为不可用，在此如实列出：合计 {unknown}。"
        "连同维护时长，终端在网时长中有 {share} 未作判定。",
    ),
    "rule.maintenance": (
        "Announced maintenance is excluded: {maintenance} in total.",
        "已公告的维护时段不计入：合计 {maintenance}。",
    ),
    "rule.no_exclusions": ("No maintenance window was announced in the period.", "本期无公告的维护时段。"),
    "rule.exclusions": ("Excluded periods", "不计入的时段"),
    "reason": ("Reason", "原因"),
    "rule.rounding": (
        "Availability is printed rounded half-to-even to 4 decimals, as in every other format of this "
        "report; whether a terminal meets its target is decided on the exact figure.",
        "可用性按四舍六入五成双保留4位小数，与本报告其他格式一致；终端是否达标按精确值判定。",
    ),
    "regions.title": ("Availability by region", "各区域可用性"),
    "regions.chart": ("Availability by region (%) against the target", "各区域可用性（%）与目标"),
    "regions.table": ("Availability by region", "各区域可用性明细"),
    "heatmap.title": ("Availability by region and day", "各区域逐日可用性"),
    "heatmap.chart": ("Daily availability by region (%)", "各区域逐日可用性（%）"),
    "heatmap.note": (
        "Each cell is one region on one local day; grey: nothing could be judged that day.",
        "每格为一个区域一天（本地时间）的可用性；灰色表示当天无可判定数据。",
    ),
    "timeline.title": ("Outages", "中断情况"),
    "timeline.chart": ("Outage timeline (day of month)", "中断时间轴（日）"),
    "timeline.note": (
        "The {shown} terminals with the most unavailable time; {total} outages on {terminals} terminals "
        "in all, every one listed below.",
        "图中为不可用时长最长的 {shown} 个终端；本期共 {terminals} 个终端发生 {total} 次中断，全部列于下表。",
    ),
    "timeline.none": ("No outage in the period.", "本期无中断。"),
    "outages.table": ("Every outage", "中断明细"),
    "outages.more": (
        "{n} more outages are not shown here; the JSON and CSV reports list all of them.",
        "另有 {n} 次中断未在此列出，JSON 与 CSV 报告包含全部中断。",
    ),
    "quality.title": ("Link quality by carrier", "各运营商链路质量"),
    "quality.rtt": ("Round-trip time (ms)", "往返时延（毫秒）"),
    "quality.jitter": ("Jitter (ms)", "抖动（毫秒）"),
    "quality.loss": ("Terminals by packet loss in the month", "按当月丢包率统计的终端分布"),
    "quality.loss_axis": ("share of terminals (%)", "终端占比（%）"),
    "loss_pct": ("Packet loss", "丢包率"),
    "packets": ("Packets sent", "发送包数"),
    "quality.whiskers": (
        "box: p25-p75, line: median, whiskers: p5-p95",
        "箱体：p25-p75，线：中位数，须：p5-p95",
    ),
    "quality.table": ("Quality figures", "质量指标"),
    "quality.note": (
        "RTT and jitter quantiles are the upper edges of the engine's histogram buckets, as in the "
        "JSON report's KPIs; loss: each terminal's lost / sent packets over the month.",
        "时延与抖动分位数取 SLA 引擎直方图桶的上界，与 JSON 报告的指标一致；"
        "丢包率为每个终端当月丢失包数 / 发送包数。",
    ),
    "quality.none": ("No probe data for the period.", "本期无探测数据。"),
    "probes": ("Probes", "探测次数"),
    "metric": ("Metric", "指标"),
    "mean": ("Mean", "均值"),
    "lossy": ("Terminals with loss", "有丢包的终端"),
    "money.title": ("Deductions and reconciliation", "扣减与对账"),
    "money.none": (
        "No contract was given: deductions and reconciliation are not part of this report.",
        "未提供合同文件：本报告不含扣减与对账。",
    ),
    "money.year": (
        "The year's reconciliation needs all twelve months in the availability file; it is left out.",
        "全年对账需要可用性文件包含全部12个月的数据，此处从略。",
    ),
    "scope": ("Scope", "范围"),
    "band.below": ("< {v}", "< {v}"),
    "band.range": ("{lo}–{hi}", "{lo}–{hi}"),
    "band.target": ("≥ {v} (target)", "≥ {v}（目标）"),
    "target_line": ("target {v} %", "目标 {v}%"),
    "percent": ("%", "%"),
    "months.chart": ("Availability by month (%)", "逐月可用性（%）"),
    "months.title": ("Availability by month", "逐月可用性"),
    "months.table": ("Availability by month (%)", "逐月可用性（%）"),
    "months.down": ("Unavailable time by month (h)", "逐月不可用时长（小时）"),
    "month": ("Month", "月份"),
    "coverage.chart": ("Planned and open terminals by level", "各层级计划与开通终端数"),
    "planned": ("Planned", "计划数"),
    "open": ("Open", "开通数"),
    "evaluation.title": ("Performance evaluation indicators", "绩效评价指标"),
    "footer": (
        "slaprobe {version}. Figures are the JSON report's; charts are drawn from the same values.",
        "slaprobe {version}。各数值与 JSON 报告一致，图表由相同数值绘制。",
    ),
    "contents": ("Contents", "目录"),
}


CARRIERS: dict[str, tuple[str, str]] = {
    "telecom": ("China Telecom", "中国电信"),
    "unicom": ("China Unicom", "中国联通"),
    "mobile": ("China Mobile", "中国移动"),
}


def carrier_name(carrier: str, lang: str) -> str:
    """A well-known carrier id's short name (the contract's label wins where there is one)."""
    pair = CARRIERS.get(carrier)
    return carrier if pair is None else (pair[1] if lang == "zh" else pair[0])


def label(key: str, lang: str, **values: object) -> str:
    """The label in ``lang`` ("zh" or "en"), formatted with ``values``. An unknown key raises KeyError
    naming it: a typo in the page must fail the tests, not print a key to a finance officer."""
    try:
        en, zh = _LABELS[key]
    except KeyError:
        raise KeyError(f"no HTML report label {key!r}") from None
    return (zh if lang == "zh" else en).format(**values)
