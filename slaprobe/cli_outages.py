"""``slaprobe outages``: open and recent outages with their evidence, for the ticket to the carrier.

Kept out of ``cli.py`` (already the longest module) and registered there with ``cli.add_command``; it
uses the same shared options and error handling as ``report``.
"""

from __future__ import annotations

import time

import click

from slaprobe.cli_common import (
    _check_binary_out,
    _emit,
    _fail,
    _load_config,
    config_option,
    store_read_options,
)
from slaprobe.configload import ConfigError
from slaprobe.store.influx import InfluxError
from slaprobe.store.journal import JournalError
from slaprobe.timeutil import parse_time


@click.command("outages")
@config_option
@click.option("--since", required=True, help="ISO date/time (UTC unless it says) or age: 30m, 6h, 2d.")
@click.option("--until", "until", default=None, help="ISO date/time (UTC unless it says); default now.")
@click.option("--carrier", help="Only this carrier's terminals.")
@click.option("--region", help="Only this region's terminals.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "csv", "json", "xlsx"]), default="table", show_default=True
)
@click.option("--out", type=click.Path(dir_okay=False), help="Write here instead of stdout (xlsx: required).")
@store_read_options
def outages_cmd(config_path, since, until, carrier, region, fmt, out, **opts):  # type: ignore[no-untyped-def]
    """Outages open now or overlapping --since .. --until, judged by the month report's rule, with the
    evidence per interval and vantage (open = still unavailable at the end of the data)."""
    from slaprobe.outages import OutagesRequest, build_outages
    from slaprobe.report.outages import render_csv, render_json, render_table, write_xlsx
    from slaprobe.sla.engine import PeriodError
    from slaprobe.sla.maintenance import MaintenanceError
    from slaprobe.sla.rule import RuleError

    _check_binary_out(fmt, out)
    now = time.time_ns()
    try:
        since_ns = parse_time(since, now)
        until_ns = parse_time(until, now) if until else now
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    cfg = _load_config(config_path)
    req = OutagesRequest(
        since_ns, until_ns, carrier, region, opts["store_kind"], opts["journal"], opts["inventory_path"],
        opts["maintenance"], opts["preset"],
    )  # fmt: skip
    try:
        lst = build_outages(cfg, req)
    except (ConfigError, JournalError, InfluxError, PeriodError, RuleError, MaintenanceError) as exc:
        _fail(exc)
    if fmt == "xlsx":
        write_xlsx(lst, out)
        return
    render = {"table": render_table, "csv": render_csv, "json": render_json}[fmt]
    _emit(render(lst), out)
