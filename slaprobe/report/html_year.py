"""The year's HTML page (``slaprobe evaluation --format html``): availability by month per carrier, the
evaluation's coverage and indicators, the year's reconciliation. Laid out by the same rules as the month
page (``report.html``), whose helpers it uses.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

from slaprobe import __version__
from slaprobe.report import charts
from slaprobe.report.html import at, document_html, esc, figure, hours, page, pct_of
from slaprobe.report.i18n_html import label
from slaprobe.report.view import YearView, percent_text


def _pivot(caption: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table whose first cell per row is plain text and the rest ready-made ``<td>`` elements."""
    head = "".join(f"<th{' class=n' if i else ''}>{esc(h)}</th>" for i, h in enumerate(headers))
    body = "".join(f"<tr><td>{esc(r[0])}</td>{''.join(r[1:])}</tr>" for r in rows)
    return (
        f"<table><caption>{esc(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def render_year(view: YearView, lang: str = "zh") -> str:
    """The year's report: monthly availability per carrier, coverage, the evaluation and money tables."""
    L = lambda k, **kw: label(k, lang, **kw)  # noqa: E731
    title = L("year.title", year=view.year)
    gen = at(view.generated_ns or time.time_ns(), dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    months = sorted({m for s in view.series for m, _, _ in s.months})
    target = float(view.target_percent)
    series = []
    carriers = [s.key for s in view.series if s.key != "province"]
    avail_rows, down_rows = [], []
    for s in view.series:
        by_month = {m: (a, u) for m, a, u in s.months}
        values = []
        avail_row, down_row = [view.name(s.key)], [view.name(s.key)]
        for m in months:
            a, u = by_month.get(m, (0, 0))
            values.append(None if a + u == 0 else 100.0 * a / (a + u))
            value = pct_of(a, u)
            avail_row.append(f'<td class=n data-key="{esc(s.key)}@{esc(m)}">{esc(value or "-")}</td>')
            down_row.append(f"<td class=n>{esc(hours(u))}</td>")
        avail_rows.append(avail_row)
        down_rows.append(down_row)
        series.append((view.name(s.key), values, -1 if s.key == "province" else carriers.index(s.key)))
    out = [f"<header><h1>{esc(title)}</h1><p class=sub>{esc(gen)}</p></header>"]
    out.append(f'<section id="months"><h2>{esc(L("months.title"))}</h2>')
    out.append(
        figure(
            charts.monthly_lines(
                months,
                series,
                target,
                title=L("months.chart"),
                ylabel=L("availability") + " (%)",
                target_label=L("target_line", v=percent_text(view.target_percent)),
                name="months",
            )
        )
    )
    heads = [L("scope"), *(m[-2:] for m in months)]
    out.append(_pivot(L("months.table"), heads, avail_rows))
    out.append(_pivot(L("months.down"), heads, down_rows))
    out.append("</section>")
    out.append(f'<section id="evaluation"><h2>{esc(L("evaluation.title"))}</h2>')
    if view.coverage:
        out.append(
            figure(
                charts.coverage_bars(
                    view.coverage, title=L("coverage.chart"), planned_label=L("planned"), open_label=L("open")
                )
            )
        )
    out.append(document_html(view.evaluation, "evaluation"))
    out.append("</section>")
    money = document_html(view.money, "money") if view.money is not None else f"<p>{esc(L('money.year'))}</p>"
    out.append(f'<section id="money"><h2>{esc(L("money.title"))}</h2>{money}</section>')
    out.append(f"<footer>{esc(L('footer', version=__version__))}</footer>")
    return page(title, lang, "\n".join(out))
