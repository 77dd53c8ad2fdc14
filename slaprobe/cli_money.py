"""``report``, ``reconcile`` and ``evaluation``: the SLA engine and the money over the stores.

Registered on the group in ``cli.py``; each command parses options, calls the library (``settle``,
``sla_report``) and renders.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from slaprobe.cli_common import (
    _check_binary_out,
    _emit,
    _fail,
    _load_config,
    _no_data,
    _write_xlsx,
    allow_empty_option,
    config_option,
    evaluation_inputs_option,
    journal_option,
    store_option,
    store_read_options,
)
from slaprobe.config import Config
from slaprobe.configload import ConfigError
from slaprobe.report.fonts import FontError
from slaprobe.settle import (
    MoneyInputs,
    NoDataError,
    Period,
    ReconcileError,
    check_data,
    evaluation_report,
    load_inputs,
)
from slaprobe.sla.maintenance import MaintenanceError
from slaprobe.sla.periods import Month
from slaprobe.sla_report import NoDataError as StoreNoDataError
from slaprobe.sla_report import monthly_availability, store_label
from slaprobe.store.influx import InfluxError
from slaprobe.store.journal import JournalError


@click.command("report")
@config_option
@click.option("--month", help="Local calendar month, YYYY-MM (time zone: config sla.timezone).")
@click.option("--year", type=int, help="With --evaluation: the annual evaluation's indicators for this year.")
@click.option("--evaluation", is_flag=True, help="The evaluation indicators (coverage, availability).")
@click.option("--contract", type=click.Path(dir_okay=False), help="Contract YAML [config sla.contract].")
@click.option("--availability", type=click.Path(dir_okay=False), help="--evaluation: a hand-over file.")
@evaluation_inputs_option
@click.option("--carrier", help="Only this carrier's terminals.")
@click.option("--region", help="Only this region's terminals.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json", "markdown", "html", "pdf", "xlsx"]),
    default="table",
    help="html: one self-contained page with charts; pdf: that page printed to A4 (needs chromium); "
    "xlsx: a workbook, one sheet per section (needs --out).",
)
@click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@store_read_options
@click.option(
    "--availability-out", type=click.Path(dir_okay=False), help="Also merge this month into a hand-over file."
)
@allow_empty_option
def report_cmd(config_path, fmt, lang, out, availability_out, **opts):  # type: ignore[no-untyped-def]
    """Availability per terminal, region, carrier, level and tier for one month, with every outage;
    or, with --year Y --evaluation, the annual performance evaluation's output indicators."""
    if opts["evaluation"] or opts["year"] is not None:
        if opts["year"] is None or opts["month"]:
            raise click.UsageError("--evaluation takes --year YYYY (not --month)")
        if fmt == "pdf":
            raise click.UsageError("--evaluation renders table, csv, markdown, json, html or xlsx")
        _evaluation(opts["year"], {**opts, "config_path": config_path, "fmt": fmt, "lang": lang, "out": out})
        return
    if not opts["month"]:
        raise click.UsageError("give --month YYYY-MM (or --year YYYY --evaluation)")
    if opts["inputs_file"]:  # a month report has no scorecard: the file would be silently unused
        raise click.UsageError("--inputs goes with --year YYYY --evaluation (the scorecard), not --month")
    _check_binary_out(fmt, out)
    from slaprobe.report.availability_json import coverage_warning
    from slaprobe.report.availability_text import render
    from slaprobe.sla.engine import PeriodError
    from slaprobe.sla.maintenance import MaintenanceError
    from slaprobe.sla.reconcile import ReconcileError
    from slaprobe.sla.rule import RuleError
    from slaprobe.sla_report import NoDataError, ReportRequest, build_report, merge_handover
    from slaprobe.store.influx import InfluxError

    if availability_out and (opts["carrier"] or opts["region"]):
        raise click.UsageError("--availability-out takes whole months: drop --carrier / --region")
    cfg = _load_config(config_path)
    req = ReportRequest(
        opts["month"], opts["store_kind"], opts["journal"], opts["inventory_path"], opts["maintenance"],
        opts["preset"], opts["carrier"], opts["region"], opts["allow_empty"],
    )  # fmt: skip
    try:
        if fmt in ("html", "pdf"):  # self-contained page with charts (slaprobe/report/html.py)
            from slaprobe.report.html import render_month
            from slaprobe.report.month_view import build_month_view

            if fmt == "pdf" and not out:
                raise click.UsageError("--format pdf needs --out FILE")
            view, report = build_month_view(cfg, req, lang, availability_out)
            text = render_month(view, lang)
        elif fmt == "xlsx":
            from slaprobe.report.availability_text import xlsx_sheets

            report = build_report(cfg, req)
            text = ""
            _write_xlsx(out, xlsx_sheets(report, lang))
        else:
            report = build_report(cfg, req)
            text = render(report, fmt, lang)
        if availability_out:
            merge_handover(availability_out, report)
        if not (opts["carrier"] or opts["region"]):
            _mark_reported(cfg, req, opts["month"])
    except NoDataError as exc:
        _no_data(exc)
    except (
        ConfigError,
        JournalError,
        InfluxError,
        PeriodError,
        RuleError,
        MaintenanceError,
        ReconcileError,
        FontError,
    ) as exc:
        _fail(exc)
    warning = coverage_warning(report)
    if warning:
        click.echo(warning, err=True)
    if fmt == "pdf":
        from slaprobe.report.pdf import PdfError, html_to_pdf

        try:
            html_to_pdf(text, out)
        except PdfError as exc:
            _fail(exc)
    elif fmt == "xlsx":
        pass  # written above, before the coverage warning
    elif out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


def _mark_reported(cfg: Config, req: Any, month: str) -> None:
    """Record in the columnar tier, if there is one, that ``month`` was reported from this store (tier
    retention may then prune its days). Nothing is created for a journal-only store; a tier that cannot
    be written only means retention keeps the month's days: the safe side."""
    if (req.store or cfg.store.kind) == "influx" and not req.journal:
        return
    from slaprobe.storage import tier_path
    from slaprobe.store.columnar import Tier, TierError

    tier = Tier(tier_path(cfg, req.journal))
    if tier.exists():
        with contextlib.suppress(OSError, TierError):
            tier.set_reported(month)


def _money_inputs(opts: dict[str, Any], months: Sequence[Month], allow_empty: bool = True) -> MoneyInputs:
    """Contract and inventory default to the config's ``sla.contract`` and ``inventory``; availability
    is the ``--availability`` hand-over file if given, else ``months`` computed from the store (months
    with nothing judged exit 1 unless ``allow_empty``)."""
    config = _load_config(opts["config_path"])
    contract = opts["contract"] or (config.resolve(config.sla.contract) if config.sla.contract else None)
    if not contract:
        raise click.UsageError("no contract: pass --contract FILE or set sla.contract in the config")
    inventory = opts["inventory_path"] or config.resolve(config.inventory)
    history, maintenance = opts.get("history"), opts.get("maintenance")
    if maintenance and opts["availability"]:
        raise click.UsageError(
            "--maintenance applies when availability is computed from the store; a hand-over file "
            "(--availability) already holds the maintenance it was computed with"
        )
    try:
        if opts["availability"]:
            tz = config.sla.timezone
            return load_inputs(contract, inventory, opts["availability"], tz, history=history)
        store, journal = opts.get("store_kind"), opts.get("journal")
        monthly = monthly_availability(config, months, store=store, journal=journal, inventory=inventory,
                                       allow_empty=allow_empty, maintenance=maintenance)  # fmt: skip
        first, last = min(months), max(months)
        source = f"computed from {store_label(config, store, journal)}, {first}..{last}"
        if maintenance is None and config.sla.maintenance:
            maintenance = config.resolve(config.sla.maintenance)
        return load_inputs(contract, inventory, monthly, config.sla.timezone, source, history, maintenance)
    except (ConfigError, JournalError, InfluxError, MaintenanceError) as exc:
        _fail(exc)
    except StoreNoDataError as exc:
        _no_data(exc)


_MONEY_OPTIONS = (
    config_option,
    click.option("--contract", type=click.Path(dir_okay=False), help="Contract YAML [config sla.contract]."),
    click.option("--inventory", "inventory_path", type=click.Path(dir_okay=False), help="[config inventory]"),
    click.option(
        "--availability",
        type=click.Path(dir_okay=False),
        help="Hand-over file (JSON lines, from report --availability-out) [default: from the store].",
    ),
    store_option,
    journal_option,
    click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "csv", "markdown", "json", "html", "xlsx"]),
        default="table",
        help="csv starts with a UTF-8 BOM (Excel on Chinese Windows); xlsx: a workbook (needs --out).",
    ),
    click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True),
    click.option("--out", type=click.Path(dir_okay=False), help="Write here instead of stdout."),
)


def _money_options(f: click.decorators.FC) -> click.decorators.FC:
    for option in reversed(_MONEY_OPTIONS):
        f = option(f)
    return f


@click.command("reconcile")
@click.option("--quarter", help="e.g. 2022Q4")
@click.option("--year", type=int, help="the whole contract year")
@click.option("--month", help="e.g. 2022-03")
@click.option("--invoice", type=click.Path(exists=True, dir_okay=False), help="A carrier's bill (CSV).")
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    help="Invoice amounts within this many currency units of ours are rounding differences "
    "[default: half a quantum per terminal in the row; 0 for a terminal row].",
)
@click.option(
    "--maintenance",
    type=click.Path(exists=True, dir_okay=False),
    help="Maintenance windows YAML (availability computed from the store) [config sla.maintenance].",
)
@click.option(
    "--inventory-history",
    "history",
    type=click.Path(exists=True, dir_okay=False),
    help="Dated changes, CSV: terminal,effective_from,tier,carrier,status (a period spanning one is split).",
)
@click.option("--settle", is_flag=True, help="Record this settlement as a statement (inputs, figures).")
@click.option("--by", "settled_by", help="Who settles (with --settle) [env USER].")
@click.option("--settlements", type=click.Path(file_okay=False),
              help="Directory of settled statements [config state_dir/settlements].")  # fmt: skip
@allow_empty_option
@_money_options
def reconcile_cmd(
    quarter, year, month, invoice, tolerance, settle, settled_by, settlements, allow_empty, **opts
):  # type: ignore[no-untyped-def]
    """Settle a quarter or year per carrier: fees, deductions with reasons, installments, balance due.
    A period with a settled statement is compared with it: any drift exits 3 naming what changed."""
    import os
    from decimal import Decimal

    from slaprobe.settle import check_settled, render_statement, settle_statement
    from slaprobe.statement import DriftError

    chosen = [p for p in (quarter, None if year is None else str(year), month) if p]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --quarter, --year, --month")
    try:
        period = Period.parse(chosen[0])
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    fmt, lang = opts["fmt"] or "table", opts["lang"] or "zh"
    if fmt == "xlsx" and not opts["out"]:
        raise click.UsageError("--format xlsx needs --out FILE")
    warnings: list[str] = []
    try:
        inputs = _money_inputs(opts, period.year_to_date().months, allow_empty)  # year to date
        if not allow_empty:
            check_data(inputs, period)
        tol = None if tolerance is None else Decimal(str(tolerance))
        st = settle_statement(inputs, period, invoice, warnings, tol)
        directory = settlements or str(Path(_load_config(opts["config_path"]).state_dir) / "settlements")
        note = check_settled(st, inputs, invoice, directory, settle, settled_by or os.environ.get("USER", ""))
        if note:
            click.echo(note, err=True)
        out = render_statement(st, fmt, lang, inputs.timezone)
        if isinstance(out, bytes):
            Path(opts["out"]).write_bytes(out)
        else:
            _emit(out, opts["out"])
    except (ConfigError, ReconcileError, FontError) as exc:
        _fail(exc)
    except NoDataError as exc:
        _no_data(exc)
    except DriftError as exc:
        click.echo(str(exc), err=True)
        sys.exit(3)
    for warning in warnings:
        click.echo(warning, err=True)


@click.command("evaluation")
@click.option("--year", type=int, help="The evaluated year (the contract's).")
@evaluation_inputs_option
@click.option(
    "--example-inputs",
    is_flag=True,
    help="Print the example inputs file (the 2022 report's values, every key explained) to stdout or "
    "--out, and exit: the template to fill in.",
)
@_money_options
def evaluation_cmd(year: int | None, example_inputs: bool, **opts: Any) -> None:
    """The annual evaluation: every indicator scored, part scores and grade, with the output indicators
    slaprobe measures (``report --year Y --evaluation`` shows the same, with the same ``--inputs``)."""
    if example_inputs:
        if year is not None or opts["inputs_file"]:
            raise click.UsageError("--example-inputs prints the template only: drop --year / --inputs")
        from slaprobe.examples import EXAMPLE_EVALUATION_INPUTS

        _emit(EXAMPLE_EVALUATION_INPUTS.read_text(encoding="utf-8"), opts["out"])
        return
    if year is None:
        raise click.UsageError("give --year YYYY (or --example-inputs for a template of --inputs)")
    _evaluation(year, opts)


def _evaluation(year: int, opts: dict[str, Any]) -> None:
    lang = opts["lang"] or "zh"
    _check_binary_out(opts["fmt"], opts["out"])
    try:
        inputs = _money_inputs(opts, Period.year(year).months)
        if opts["fmt"] == "html":  # monthly availability chart, coverage, indicators, the year's money
            from slaprobe.report.html_year import render_year
            from slaprobe.report.year_view import year_view

            text = render_year(year_view(inputs, year, lang, opts.get("inputs_file")), lang)
        elif opts["fmt"] == "xlsx":
            from slaprobe.report.evaluation_xlsx import evaluation_sheets
            from slaprobe.settle import evaluation_result

            ev, scorecard, source = evaluation_result(inputs, year, opts.get("inputs_file"))
            _write_xlsx(opts["out"], evaluation_sheets(ev, lang, scorecard, source))
            return
        else:
            text = evaluation_report(inputs, year, opts["fmt"] or "table", lang, opts.get("inputs_file"))
        _emit(text, opts["out"])
    except (ValueError, FontError, ConfigError) as exc:
        _fail(exc)
