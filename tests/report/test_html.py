"""The HTML report of a synthetic month, opened in Debian's headless Chromium.

The month (tests/report/synth.py) has known events; the report is made by the real CLI from a real
journal. Checked in the browser: no console error and no request leaving the file, every chart drawn
with marks (and the heat map's cells in the bands the ground truth puts them in), Chinese drawn by the
embedded font and not as tofu, every headline and table figure equal to ``--format json`` (and the money
to a hand computation from the example contract), English with no Chinese label left, and an A4 print.
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from slaprobe.store.journal import JournalStore
from tests.report import synth
from tests.report.chromium import CHROMIUM, Browser

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")

CHARTS = ("regions", "heatmap", "timeline", "rtt-ms", "jitter-ms", "loss")
REGION_ROWS = ("haikou", "sanya", "dingan", "dongfang")  # telecom's regions first, each carrier's by key
HAN = re.compile(r"[\u3400-\u9fff]")
SAME_SHAPE = 0.2  # share of a glyph's 16 x 16 shape bits that may differ between two drawings of one shape


def slaprobe(*args: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "slaprobe", *args], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.fixture(scope="module")
def month(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Journal + inventory + config of the synthetic month; the JSON and zh/en HTML reports of it."""
    d = tmp_path_factory.mktemp("slp-html-month")
    synth.write_inventory(d / "terminals.csv")
    journal = JournalStore(d / "state" / "journal.sqlite")
    batch = []
    for s in synth.samples():
        batch.append(s)
        if len(batch) == 50_000:
            journal.write_samples(batch)
            batch = []
    journal.write_samples(batch)
    journal.write_heartbeats(list(synth.heartbeats()))
    journal.close()
    shutil.copy(ROOT / "config" / "contract.example.yaml", d / "contract.yaml")
    (d / "maintenance.yaml").write_text(synth.MAINTENANCE_YAML, encoding="utf-8")
    (d / "slaprobe.yaml").write_text(
        f"inventory: terminals.csv\nstate_dir: {d / 'state'}\n"
        "sla:\n  contract: contract.yaml\n  maintenance: maintenance.yaml\n"
    )
    out = {"dir": d}
    for fmt, lang in (("json", "zh"), ("html", "zh"), ("html", "en")):
        path = d / f"report.{lang}.{fmt}"
        slaprobe("report", "--config", str(d / "slaprobe.yaml"), "--month", synth.MONTH, "--format", fmt,
                 "--lang", lang, "--out", str(path))  # fmt: skip
        out[f"{fmt}.{lang}"] = path
    return out


@pytest.fixture(scope="module")
def browser() -> Browser:
    b = Browser()
    yield b
    b.close()


@pytest.fixture
def zh(browser: Browser, month: dict[str, Path]) -> Browser:
    browser.events.clear()
    browser.open(month["html.zh"].as_uri())
    return browser


def test_page_loads_without_errors_or_network(zh: Browser, month: dict[str, Path]) -> None:
    assert zh.problems() == []
    outside = [u for u in zh.requested_urls() if not u.startswith(("file:", "data:"))]
    assert outside == []
    html = month["html.zh"].read_text(encoding="utf-8")
    assert "<script" not in html and "http://" not in html.replace("http://www.w3.org/", "")
    assert len(html) < 1_500_000  # self-contained but not bloated (font subset, vector charts)


def test_every_chart_is_drawn_with_marks(zh: Browser) -> None:
    charts = zh.evaluate(
        """[...document.querySelectorAll('svg[data-chart]')].map(svg => {
             const box = svg.getBoundingClientRect();
             const marks = [...svg.querySelectorAll('[id*="-mark-"]')].map(m => {
               const b = m.getBBox(); return [m.id, b.width, b.height]; });
             return [svg.dataset.chart, box.width, box.height, marks]; })"""
    )
    by_name = {c[0]: c for c in charts}
    assert sorted(by_name) == sorted(CHARTS)
    for name, width, height, marks in charts:
        assert width > 200 and height > 50, name
        assert marks, f"{name}: no marks"
        assert all(w > 0 and h > 0 for _, w, h in marks), f"{name}: an empty mark"
    assert len(by_name["regions"][3]) == 4  # one bar per region (all four were judged)
    assert len(by_name["timeline"][3]) == 2  # the two outages of the ground truth
    assert len(by_name["loss"][3]) >= 2  # two carriers, each at least one loss bin


def test_heat_map_cells_fall_in_the_ground_truth_bands(zh: Browser) -> None:
    """4 regions x 31 days; colours are the documented bands (<95 red, 95-99 orange, >= target green)."""
    fills = zh.evaluate(
        """[...document.querySelectorAll('#heatmap-mark-0 path')].map(p =>
             getComputedStyle(p).fill)"""
    )
    assert len(fills) == 4 * 31
    cell = {
        (region, day): fills[r * 31 + day - 1] for r, region in enumerate(REGION_ROWS) for day in range(1, 32)
    }
    red, orange, green = "rgb(178, 24, 43)", "rgb(239, 138, 98)", "rgb(26, 152, 80)"
    assert cell["haikou", 10] == red  # 3 h of 48 terminal-hours down: 93.75 %
    assert cell["dongfang", 20] == orange  # 2 h of 48: 95.83 %
    assert cell["dongfang", 21] == orange  # 1.5 h of 48: 96.88 %
    special = {("haikou", 10), ("dongfang", 20), ("dongfang", 21)}
    assert all(v == green for k, v in cell.items() if k not in special)  # incl. dingan 5 (4 min, no outage)


def _glyph_shapes(b: Browser, selector: str, text: str) -> list[tuple[int, list[bool]]]:
    """Screenshot each character of ``text`` (in the element's first text node holding it); per glyph:
    its ink (dark pixels) and its shape (ink bounding box scaled to 16 x 16, thresholded), which makes
    glyphs comparable whatever their sub-pixel position."""
    rects = b.evaluate(
        f"""(() => {{
          const el = document.querySelector({json.dumps(selector)});
          const node = [...el.childNodes].find(n => n.nodeType === 3 && n.data.includes({json.dumps(text)}));
          const at = node.data.indexOf({json.dumps(text)});
          return [...{json.dumps(text)}].map((_, i) => {{
            const r = document.createRange(); r.setStart(node, at + i); r.setEnd(node, at + i + 1);
            const b = r.getBoundingClientRect();
            return [b.x + window.scrollX, b.y + window.scrollY, b.width, b.height]; }});
        }})()"""
    )
    shapes = []
    for x, y, w, h in rects:
        png = b.screenshot({"x": x, "y": y, "width": w, "height": h}, scale=4)  # 4x: sub-pixel noise small
        img = Image.open(io.BytesIO(png)).convert("L")
        ink = img.point(lambda v: 255 if v < 128 else 0)
        box = ink.getbbox()
        if box is None:
            shapes.append((0, [False] * 256))
            continue
        small = ink.crop(box).resize((16, 16), Image.Resampling.BILINEAR)
        shapes.append((ink.histogram()[255], [v >= 128 for v in small.tobytes()]))
    return shapes


def _differ(a: list[bool], b: list[bool]) -> float:
    return sum(x != y for x, y in zip(a, b, strict=True)) / len(a)


def _distances(shapes: list[tuple[int, list[bool]]]) -> list[float]:
    return [_differ(a[1], b[1]) for i, a in enumerate(shapes) for b in shapes[i + 1 :]]


def test_chinese_is_drawn_by_the_embedded_font_not_tofu(zh: Browser) -> None:
    title = zh.evaluate("document.querySelector('h1').textContent")
    assert title.startswith("视频会议通信链路可用性月报")
    # every glyph of the heading, and of a chart label, comes from the page's own @font-face
    for selector in ("h1", 'svg[data-chart="regions"] text'):
        fonts = zh.platform_fonts(selector)
        assert fonts and all(f["isCustomFont"] for f in fonts), (selector, fonts)
        assert {f["familyName"] for f in fonts} == {"Noto Sans CJK SC"}
    assert zh.evaluate("[...document.fonts].map(f => [f.family, f.status])") == [["SlaprobeCJK", "loaded"]]
    # pixels: distinct characters draw distinct, inked glyphs; tofu would draw one box for all of them
    chars = "视频会议通信"
    shapes = _glyph_shapes(zh, "h1", chars)
    assert all(ink > 20 for ink, _ in shapes)
    assert min(_distances(shapes)) > SAME_SHAPE  # measured: >= 0.35 for these six
    # the check can fail: characters no font has (private use area) are drawn as the same box
    zh.evaluate("document.querySelector('h1').append(document.createTextNode('\\ue000\\ue001\\ue002'))")
    tofu = _glyph_shapes(zh, "h1", "\ue000\ue001\ue002")
    assert all(ink > 20 for ink, _ in tofu)
    assert max(_distances(tofu)) < SAME_SHAPE  # measured: <= 0.08 (sub-pixel position only)


def _json(month: dict[str, Path]) -> dict:
    return json.loads(month["json.zh"].read_text(encoding="utf-8"))


def test_headline_figures_equal_the_json_report(zh: Browser, month: dict[str, Path]) -> None:
    doc = _json(month)
    shown = dict(
        zh.evaluate(
            "[...document.querySelectorAll('[data-figure]')].map(e => [e.dataset.figure, e.dataset.value])"
        )
    )
    groups = {"province:all": doc["province"]} | {f"carrier:{g['key']}": g for g in doc["carriers"]}
    assert {k.rsplit(":", 1)[0] for k in shown} >= set(groups)
    for key, g in groups.items():
        assert shown[f"{key}:availability"] == f"{g['availability']:.4f}"
        for field in ("terminals", "outages", "below_target", "unavailable_s", "unknown_s", "maintenance_s"):
            assert shown[f"{key}:{field}"] == str(g[field]), (key, field)
    # and the JSON holds the ground truth: the two outages, 2 h unknown for each of the 8 terminals
    assert {(o["terminal"], o["start_ns"], o["duration_s"]) for o in doc["outages"]} == synth.EXPECTED_OUTAGES
    assert doc["province"]["unknown_s"] == synth.UNKNOWN_GAP_S * 8
    assert doc["province"]["unavailable_s"] == 3 * 3600 + 3 * 3600 + 1800
    assert doc["province"]["maintenance_s"] == synth.MAINTENANCE_S


def test_rule_and_exclusions_are_stated(zh: Browser, month: dict[str, Path]) -> None:
    doc = _json(month)
    rule = zh.evaluate("document.querySelector('#rule').innerText")
    assert "1 分钟" in rule and "75%" in rule and "连续 5 个" in rule
    assert f"{doc['province']['unknown_s'] / 3600:.2f} 小时" in rule  # the UNKNOWN time, stated
    assert f"{doc['excluded']['not_judged_pct']}%" in rule
    rows = zh.evaluate(
        "[...document.querySelectorAll('#rule tbody tr')].map(tr => [...tr.cells].map(c => c.textContent))"
    )
    assert rows == [["2022-03-08 02:00", "2022-03-08 04:00", "三亚", "机房电力检修"]]


def test_tables_equal_the_json_report(zh: Browser, month: dict[str, Path]) -> None:
    doc = _json(month)
    rows = dict(
        zh.evaluate(
            """[...document.querySelectorAll('tr[data-key^="region:"]')].map(tr =>
                 [tr.dataset.key.slice(7), [...tr.cells].map(c => c.textContent)])"""
        )
    )
    assert list(rows) == list(REGION_ROWS)
    for g in doc["regions"]:
        cells = rows[g["key"]]
        assert cells[2] == str(g["terminals"])
        assert cells[3] == f"{g['availability']:.4f}%"
        assert cells[4] == f"{g['unavailable_s'] / 3600:.2f} 小时"
        assert cells[6] == str(g["outages"])
    outages = zh.evaluate(
        "[...document.querySelectorAll('tr[data-outage]')]"
        ".map(tr => [tr.dataset.outage, tr.dataset.durationS])"
    )
    assert outages == [[f"{o['terminal']}@{o['start_ns']}", str(o["duration_s"])] for o in doc["outages"]]


def test_money_figures_equal_a_hand_computation(zh: Browser) -> None:
    """Example contract, 8 terminals open at year end -> first price band: standard 1700, basic 1030 per
    month. telecom: 2 x 1700 + 2 x 1030 = 5460; T0001 (standard, target 99.9) at 99.5957 % falls in
    [99.5, 99.9): 5 % of 1700 = 85. unicom: 2 x 1700 + 1030 + 1030 x 17/31 (T0008 opens on the 15th)
    = 4994.84; T0006 (basic, target 99.5) at 99.5283 % meets it; its 3.5 h outage is under the 4 h
    incident rule: nothing deducted."""
    shown = dict(
        zh.evaluate(
            "[...document.querySelectorAll('[data-figure]')].map(e => [e.dataset.figure, e.dataset.value])"
        )
    )
    assert [shown[f"carrier:telecom:{k}"] for k in ("gross", "deducted", "net")] == [
        "5460.00",
        "85.00",
        "5375.00",
    ]
    assert [shown[f"carrier:unicom:{k}"] for k in ("gross", "deducted", "net")] == [
        "4994.84",
        "0.00",
        "4994.84",
    ]
    deductions = zh.evaluate(
        "[...document.querySelectorAll('table[data-table=\"money-1\"] tbody tr')]"
        ".map(tr => [...tr.cells].map(c => c.textContent))"
    )
    assert len(deductions) == 1 and deductions[0][1] == "T0001" and deductions[0][-1] == "85.00"


def test_english_report_has_no_chinese_label(browser: Browser, month: dict[str, Path]) -> None:
    browser.events.clear()
    browser.open(month["html.en"].as_uri())
    assert browser.problems() == []
    assert browser.evaluate("document.documentElement.lang") == "en"
    assert (
        browser.evaluate("document.querySelector('h1').textContent")
        == "Video-conference link availability, 2022-03"
    )
    text = browser.evaluate("document.body.innerText")
    svg_text = browser.evaluate(
        "[...document.querySelectorAll('svg text')].map(t => t.textContent).join(' ')"
    )
    # the only Chinese left is data, not a label: the maintenance window's reason as announced
    assert "".join(HAN.findall(text + svg_text)) == "机房电力检修"
    assert "Haikou" in svg_text and "China Telecom" in text


def test_prints_to_a4(zh: Browser, tmp_path: Path) -> None:
    pdf = zh.print_pdf()
    assert pdf.startswith(b"%PDF")
    assert _a4_pages(pdf) >= 2
    zh.call("Emulation.setEmulatedMedia", media="print")
    styles = zh.evaluate(
        "[...document.querySelectorAll('figure, .card, table')].map(e => getComputedStyle(e).breakInside)"
    )
    zh.call("Emulation.setEmulatedMedia", media="")
    assert styles and set(styles) == {"avoid"}
    (tmp_path / "report.pdf").write_bytes(pdf)


def _a4_pages(pdf: bytes) -> int:
    boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
    for w, h in boxes:  # A4 = 210 x 297 mm = 595.3 x 841.9 pt (Chromium rounds to its pixel grid)
        assert abs(float(w) - 595.3) < 2 and abs(float(h) - 841.9) < 2
    return len(boxes)


def test_pdf_export(month: dict[str, Path], tmp_path: Path) -> None:
    """``--format pdf`` prints the page with Chromium's own print path (no DevTools)."""
    from slaprobe.report.pdf import html_to_pdf

    html_to_pdf(month["html.zh"].read_text(encoding="utf-8"), tmp_path / "r.pdf")
    pdf = (tmp_path / "r.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and _a4_pages(pdf) >= 2
    # the glyphs travel inside the PDF (Skia embeds the CFF web font as Type 3) with a ToUnicode map,
    # so the text stays copyable
    assert b"/FontDescriptor" in pdf and b"/ToUnicode" in pdf


# ----------------------------------------------------------------------------- the year's report

DOWN = {("T0001", 3): 3 * 3600, ("T0006", 7): 10 * 3600}  # hand-made year: two bad terminal-months


def _year_handover(path: Path) -> dict[str, dict[str, tuple[int, int]]]:
    """A 2022 hand-over file for the synthetic terminals; returns carrier -> month -> (available, down)."""
    from slaprobe.sla.availability_file import write_availability
    from slaprobe.sla.periods import Month
    from slaprobe.sla.types import TerminalAvailability

    data, sums = {}, {}
    for m in range(1, 13):
        month = Month(2022, m)
        start = int(synth.dt.datetime(2022, m, 1, tzinfo=synth.TZ).timestamp()) * 1_000_000_000
        first_day = 15 if m == 3 else 1
        data[month] = {}
        for tid, _n, carrier, *_rest, since in synth.TERMINALS:
            if since == "2022-03-15" and m < 3:
                continue
            days = month.days - (first_day - 1 if since == "2022-03-15" and m == 3 else 0)
            seconds = days * 86400
            down = DOWN.get((tid, m), 0)
            ta = TerminalAvailability(tid, start, start + month.days * 86400 * 10**9, 60, seconds, 0, 0,
                                      seconds - down, down, down // 60)  # fmt: skip
            data[month][tid] = ta
            for key in ("province", carrier):
                acc = sums.setdefault(key, {}).setdefault(str(month), [0, 0])
                acc[0] += seconds - down
                acc[1] += down
    write_availability(path, data)
    return sums


def test_year_report(browser: Browser, month: dict[str, Path]) -> None:
    d = month["dir"]
    sums = _year_handover(d / "year.jsonl")
    common = ["--config", str(d / "slaprobe.yaml"), "--year", "2022", "--availability", str(d / "year.jsonl")]
    slaprobe("evaluation", *common, "--format", "html", "--out", str(d / "year.html"))
    evaluation = json.loads(slaprobe("evaluation", *common, "--format", "json").stdout)
    money = json.loads(slaprobe("reconcile", *common, "--format", "json").stdout)
    browser.events.clear()
    browser.open((d / "year.html").as_uri())
    assert browser.problems() == []
    lines = browser.evaluate(
        '[...document.querySelectorAll(\'svg[data-chart="months"] [id^="months-mark-"]\')].length'
    )
    assert lines == 3  # province, telecom, unicom
    rows = dict(
        browser.evaluate(
            "[...document.querySelectorAll('td[data-key]')].map(td => [td.dataset.key, td.textContent])"
        )
    )
    assert len(rows) == 3 * 12
    from decimal import ROUND_HALF_EVEN, Decimal

    for key, by_month in sums.items():
        for m, (a, u) in by_month.items():
            exact = (Decimal(100 * a) / Decimal(a + u)).quantize(Decimal("0.0001"), ROUND_HALF_EVEN)
            assert rows[f"{key}@{m}"] == str(exact), (key, m)
    text = browser.evaluate("document.body.innerText")
    rate = evaluation["availability"]["rate_percent"]  # truncated to 6 places; the table shows 2
    assert rate[: rate.index(".") + 3] + "%" in text
    assert evaluation["months"] == [f"2022-{m:02d}" for m in range(1, 13)]
    assert money["net"] in text and money["gross"] in text and money["deducted"] in text
