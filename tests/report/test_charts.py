"""Chart functions: SVG that parses, one mark per datum, labels as text, ids safe to inline together."""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

from slaprobe.report import charts

SVG = "{http://www.w3.org/2000/svg}"
TZ = ZoneInfo("Asia/Shanghai")


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("viewBox")
    return root


def marks(root: ET.Element, name: str) -> list[str]:
    return sorted(e.get("id", "") for e in root.iter() if e.get("id", "").startswith(f"{name}-mark-"))


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def bars(**kw: object) -> str:
    data = [charts.Bar("海口", 99.95, 0), charts.Bar("三沙", None, 0), charts.Bar("东方", 99.2, 1)]
    return charts.availability_bars(
        data, 99.9, title="各区域可用性", ylabel="%", target_label="目标 99.9%", no_data_label="无数据",
        legend=["中国电信", "中国联通"], **kw,
    )  # fmt: skip


def test_bars_one_mark_per_judged_region_and_labels_as_text() -> None:
    root = parse(bars())
    assert root.get("data-chart") == "bars" and root.get("role") == "img"
    assert marks(root, "bars") == ["bars-mark-0", "bars-mark-2"]  # the region with no data has no bar
    shown = texts(root)
    for label in ("海口", "三沙", "东方", "无数据", "目标 99.9%", "中国电信", "99.95", "99.20"):
        assert label in shown, label
    assert "<title>各区域可用性</title>" in bars()


def test_bar_labels_are_truncated_never_rounded_up() -> None:
    svg = charts.availability_bars(
        [charts.Bar("x", 99.8999, 0)], 99.9, title="t", ylabel="%", target_label="t", no_data_label="-"
    )
    value_labels = [  # the bar's own label is drawn smaller than the axis ticks (which do show 99.90)
        "".join(t.itertext()) for t in parse(svg).iter(f"{SVG}text") if "font-size: 6px" in t.get("style", "")
    ]
    assert value_labels == ["99.89"]


def test_output_is_deterministic_and_ids_are_unique_across_charts() -> None:
    a, b = bars(), bars(name="other")
    assert a == bars()
    ids_a = set(re.findall(r'\bid="([^"]+)"', a))
    ids_b = set(re.findall(r'\bid="([^"]+)"', b))
    assert ids_a and not ids_a & ids_b
    for svg, ids in ((a, ids_a), (b, ids_b)):  # every reference points inside its own chart
        assert set(re.findall(r"url\(#([^)]+)\)", svg)) <= ids
        assert set(re.findall(r'href="#([^"]+)"', svg)) <= ids


def test_text_as_paths_leaves_no_text_element() -> None:
    root = parse(bars(text_as_paths=True))
    assert texts(root) == []
    assert marks(root, "bars") == ["bars-mark-0", "bars-mark-2"]


def test_heatmap_cells_take_their_band_colour() -> None:
    days = [dt.date(2022, 3, d) for d in (1, 2, 3)]
    values = [[100.0, 93.75, None], [99.95, 99.6, 97.0]]
    svg = charts.availability_heatmap(["海口", "东方"], days, values, 99.9, title="t", no_data_label="无数据")
    root = parse(svg)
    cells = [p for p in root.iter(f"{SVG}path") if "heatmap-mark-0" in _ancestors(root, p)]
    assert len(cells) == 6
    fills = [re.search(r"fill: (#[0-9a-f]{6})", p.get("style", "")).group(1) for p in cells]
    green, red, grey = "#1a9850", "#b2182b", charts.NO_DATA.lower()
    assert fills[:3] == [green, red, grey]
    assert fills[3] == green and fills[4] == "#f7f7a1" and fills[5] == "#ef8a62"  # 99.5-99.9, 95-99


def _ancestors(root: ET.Element, node: ET.Element) -> set[str]:
    parents = {c: p for p in root.iter() for c in p}
    out = set()
    while node in parents:
        node = parents[node]
        out.add(node.get("id", ""))
    return out


def test_timeline_draws_every_outage_even_a_short_one() -> None:
    start, end = dt.datetime(2022, 3, 1, tzinfo=TZ), dt.datetime(2022, 4, 1, tzinfo=TZ)
    rows = [
        charts.TimelineRow("T1", (
            charts.Span(dt.datetime(2022, 3, 10, 9, tzinfo=TZ), dt.datetime(2022, 3, 10, 12, tzinfo=TZ)),
        )),
        charts.TimelineRow("T2", (
            charts.Span(dt.datetime(2022, 3, 2, tzinfo=TZ), dt.datetime(2022, 3, 2, 0, 5, tzinfo=TZ)),
            charts.Span(dt.datetime(2022, 3, 20, tzinfo=TZ), dt.datetime(2022, 3, 21, tzinfo=TZ)),
        ), 1),
    ]  # fmt: skip
    root = parse(charts.outage_timeline(rows, start, end, title="中断"))
    assert len(marks(root, "timeline")) == 3
    assert {"T1", "T2", "中断"} <= set(texts(root))


def test_boxes_and_loss_bins() -> None:
    boxes = [charts.Box("电信", 5, 7, 8, 10, 20, 0), charts.Box("联通", 9, 12, 15, 18, 30, 1)]
    root = parse(charts.distribution_boxes(boxes, title="RTT", xlabel="ms", whisker_label="p5-p95"))
    assert len(marks(root, "boxes")) == 2
    loss = charts.loss_bins_chart(
        [("电信", (3, 1, 0, 0, 0), 0), ("联通", (4, 0, 0, 0, 0), 1)],
        ["0", "a", "b", "c", "d"],
        title="l",
        xlabel="%",
    )
    assert len(marks(parse(loss), "loss")) == 3  # non-empty bins only
