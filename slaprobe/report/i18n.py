"""Labels of the availability report in Chinese and English: one dictionary, shared by every renderer.

``label(key, lang)`` returns the text; a missing key raises ``KeyError`` naming it (a typo in a renderer
must fail the tests, not print a key). The money reports keep their own table in ``i18n_money.py``; both
use the same (en, zh) tuple layout and level names, so they can be merged into one table.
"""

from __future__ import annotations

from slaprobe.terminal import Level

LANGS = ("zh", "en")

# key -> (en, zh)
LABELS: dict[str, tuple[str, str]] = {
    "title": ("Availability report {month} ({tz})", "可用性报告 {month}（{tz}）"),
    "filters": ("Filter", "筛选"),
    "rule": ("Rule", "判定规则"),
    "province": ("Province", "全省"),
    "summary": ("Province summary", "全省汇总"),
    "by_carrier": ("By carrier", "按运营商"),
    "by_region": ("By region", "按地区"),
    "by_level": ("By level", "按层级"),
    "by_tier": ("By tier", "按档次"),
    "terminals_section": ("Terminals (lowest availability first)", "终端（可用性由低到高）"),
    "outages_section": ("Outages", "中断列表"),
    "excluded_section": ("Excluded time", "剔除时间"),
    "warnings_section": ("Warnings", "警告"),
    "evidence_section": ("Outage evidence (per vantage, per interval)", "中断证据（按探测点、按时段）"),
    "carrier": ("Carrier", "运营商"),
    "region": ("Region", "地区"),
    "level": ("Level", "层级"),
    "tier": ("Tier", "档次"),
    "key": ("Group", "分组"),
    "terminal": ("Terminal", "终端"),
    "name": ("Name", "名称"),
    "terminals": ("Terminals", "终端数"),
    "availability": ("Availability %", "可用性 %"),
    "in_service_h": ("In service h", "在网时长 h"),
    "downtime_h": ("Downtime h", "中断时长 h"),
    "downtime_min": ("Downtime min", "中断时长 min"),
    "unknown_h": ("Unknown h", "未知时长 h"),
    "maintenance_h": ("Maintenance h", "维护时长 h"),
    "outages": ("Outages", "中断次数"),
    "mttr_min": ("MTTR min", "平均修复 min"),
    "mtbf_h": ("MTBF h", "平均无故障 h"),
    "below_target": ("Below target", "未达标"),
    "insufficient_data": ("Insufficient data", "数据不足"),
    "measured_pct": ("Measured %", "测量覆盖 %"),
    "measured_share": (
        "Measured share % (judged / (in service - maintenance))",
        "测量覆盖率 %（判定 /（在网 - 维护））",
    ),
    "min_measured_share": ("Minimum measured share % for a verdict", "达标判定所需最低测量覆盖率 %"),
    "coverage_warning": (
        "WARNING: measured share {share} % of the in-service time (minimum {minimum} %); "
        "{n} of {total} terminals have insufficient data: no target is met or missed on their figures",
        "警告：测量覆盖率为在网时长的 {share}%（最低要求 {minimum}%）；{total} 个终端中 {n} 个数据不足，"
        "不据此判定达标或未达标",
    ),
    "status.met": ("", ""),
    "status.below": ("yes", "是"),
    "status.insufficient_data": ("insufficient data", "数据不足"),
    "status.no_target": ("-", "-"),
    "worst": ("Worst terminal", "最差终端"),
    "worst_availability": ("Worst %", "最差 %"),
    "hli": ("High-loss intervals", "高丢包时段"),
    "chli": ("CHLI", "连续高丢包"),
    "loss_pct": ("Loss %", "丢包率 %"),
    "rtt_p50_ms": ("RTT p50 ms", "时延 p50 ms"),
    "rtt_p95_ms": ("RTT p95 ms", "时延 p95 ms"),
    "jitter_p95_ms": ("Jitter p95 ms", "抖动 p95 ms"),
    "mos": ("MOS", "MOS"),
    "y1541_class0_pct": ("Y.1541 class 0 %", "Y.1541 0类 %"),
    "start": ("Start", "开始"),
    "end": ("End", "结束"),
    "duration_min": ("Duration min", "持续 min"),
    "in_month_min": ("In month min", "本月计 min"),
    "truncated": ("Beyond data", "超出数据"),
    "vantage": ("Vantage", "探测点"),
    "sent": ("Sent", "发送"),
    "received": ("Received", "接收"),
    "loss": ("Loss", "丢包率"),
    "note": ("Note", "说明"),
    "maintenance_total": ("Maintenance (announced windows)", "维护（已公告窗口）"),
    "unknown_total": ("Unknown (not measured / probe host unhealthy)", "未知（未测量 / 探测主机异常）"),
    "mass_events": ("Mass-event intervals of vantage {vantage}", "探测点 {vantage} 群体事件时段"),
    "measured_total": ("Judged time (the denominator)", "判定时长（分母）"),
    "targets": ("Targets", "达标线"),
    "none": ("none", "无"),
    "sheet.report": ("Report", "报告"),
    "sheet.terminals": ("Terminals", "终端"),
    "sheet.evidence": ("Outage evidence", "中断证据"),
    "report_info": ("Report", "报告信息"),
    "yes": ("yes", "是"),
    "hours": ("{h} h", "{h} 小时"),
    "no_outages": ("No outages.", "无中断。"),
    # evidence notes
    "note.": ("measured", "实测"),
    "note.no_loss_recorded": ("looked, no loss recorded", "已探测，无丢包记录"),
    "note.not_measured": ("probes not sent", "未发送探测"),
    "note.too_few_probes": ("too few probes", "探测包过少"),
    "note.no_heartbeat": ("probe host not looking (no heartbeat)", "探测主机未工作（无心跳）"),
    "note.reference_failed": ("probe host's reference targets all failed", "探测主机参考目标全部失败"),
    "note.unstored": ("samples of the cycle not stored (disk full?)", "该周期样本未能存储（磁盘满？）"),
    "note.nothing_probed": ("the cycle probed nothing", "该周期未发出任何探测"),
    "note.mass_event": ("probe host mass event", "探测主机群体事件"),
    "note.not_probed": ("not probed by this vantage", "本探测点未探测"),
}

LEVELS: dict[Level, tuple[str, str]] = {
    Level.PROVINCE: ("province venue", "省级会场"),
    Level.PROVINCE_DEPT: ("provincial department", "省直部门会场"),
    Level.CITY: ("city/county venue", "市县会场"),
    Level.CITY_DEPT: ("city/county department", "市县部门会场"),
    Level.TOWNSHIP: ("township", "乡镇会场"),
    Level.VILLAGE: ("village", "行政村会场"),
}


def _pick(pair: tuple[str, str], lang: str) -> str:
    if lang not in LANGS:
        raise ValueError(f"language {lang!r}: choose one of {', '.join(LANGS)}")
    return pair[0] if lang == "en" else pair[1]


def label(key: str, lang: str, **fmt: object) -> str:
    try:
        pair = LABELS[key]
    except KeyError:
        raise KeyError(f"no report label {key!r}") from None
    text = _pick(pair, lang)
    return text.format(**fmt) if fmt else text


def level_name(value: str, lang: str) -> str:
    """A level's display name (the raw value if it is not a known level)."""
    try:
        return _pick(LEVELS[Level(value)], lang)
    except ValueError:
        return value
