"""The command line: a click group whose commands are a few lines each over the library.

Sections below are grouped by area; each command parses options, calls one library function and renders.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import NoReturn

import click

from slaprobe import __version__, sample_network
from slaprobe.config import Config, load_config
from slaprobe.configload import ConfigError
from slaprobe.daemon import run_daemon
from slaprobe.inventory import load_inventory, summarize, write_csv
from slaprobe.logs import setup_logging
from slaprobe.model import ProbeKind
from slaprobe.report.inventory import render_summary
from slaprobe.report.samples import render_samples_json, render_samples_table
from slaprobe.store.journal import JournalError, JournalStore
from slaprobe.timeutil import parse_time


@click.group()
@click.version_option(__version__, prog_name="slaprobe")
def cli() -> None:
    """slaprobe: probe every terminal, store every sample, prove the availability the carrier delivered."""


# ---------------------------------------------------------------- inventory, run, samples (core)


def _fail(exc: Exception) -> NoReturn:
    """Config/inventory problems: print every one, exit 2, touch nothing."""
    click.echo(str(exc), err=True)
    sys.exit(2)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="SLAPROBE_CONFIG",
    help="Config YAML (default: built-in defaults; env SLAPROBE_CONFIG).",
)


def _load_config(path: str | None) -> Config:
    try:
        return load_config(path)
    except ConfigError as exc:
        _fail(exc)


@cli.group()
def inventory() -> None:
    """Check and summarize inventory files (CSV or YAML)."""


@inventory.command("check")
@click.argument("file", type=click.Path(dir_okay=False))
def inventory_check(file: str) -> None:
    """Validate FILE; list every bad row at once; exit 2 if any."""
    try:
        inv = load_inventory(file)
    except ConfigError as exc:
        _fail(exc)
    click.echo(f"{file}: OK, {len(inv)} terminals")


@inventory.command("summary")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Count open terminals on this day.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def inventory_summary(file: str, day: dt.datetime | None, fmt: str) -> None:
    """Counts by carrier, region, level, tier, and open / not yet open / retired."""
    try:
        inv = load_inventory(file)
    except ConfigError as exc:
        _fail(exc)
    on = day.date() if day else dt.datetime.now(dt.UTC).date()
    click.echo(render_summary(summarize(inv, on), on, fmt), nl=False)


@inventory.command("generate")
@click.option("--terminals", "n", type=click.IntRange(1, 65_000), default=1820, show_default=True)
@click.option("--seed", type=int, default=2022, show_default=True)
@click.option("--ipv6", is_flag=True, help="Addresses from the IPv6 lab block.")
@click.option("--out", type=click.Path(dir_okay=False), required=True)
def inventory_generate(n: int, seed: int, ipv6: bool, out: str) -> None:
    """Write a province-shaped example inventory (addresses in the lab's blocks)."""
    write_csv(sample_network.generate(n, seed=seed, ipv6=ipv6), out)
    click.echo(f"wrote {n} terminals to {out}")


def _shard(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    k, _, n = value.partition("/")
    if not (k.isdigit() and n.isdigit() and 1 <= int(k) <= int(n)):
        raise click.BadParameter(f"{value!r}: expected K/N with 1 <= K <= N, e.g. 2/3")
    return int(k), int(n)


@cli.command()
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Config YAML (default: built-ins)."
)
@click.option("--vantage", default=None, help="This probe host's id (overrides `vantage`).")
@click.option(
    "--shard", callback=_shard, metavar="K/N", help="Probe shard K of N (overrides shard.index/count)."
)
@click.option(
    "--region", "regions", multiple=True, help="Probe only this region (repeatable; overrides shard.regions)."
)
def run(
    config_path: str | None, vantage: str | None, shard: tuple[int, int] | None, regions: tuple[str, ...]
) -> None:
    """Run the probe daemon in the foreground (SIGTERM drains, SIGHUP reloads the inventory)."""
    config = _load_config(config_path)
    if vantage or shard or regions:  # reload through the checked loader, so the same rules apply
        index, count = shard or (config.shard.index, config.shard.count)
        picked = {"index": index, "count": count, "regions": list(regions) or list(config.shard.regions)}
        try:
            config = load_config(config_path, {"vantage": vantage or config.vantage, "shard": picked})
        except ConfigError as exc:
            _fail(exc)
    setup_logging(config.log.level, config.log.format)
    try:
        code = run_daemon(config)
    except ConfigError as exc:
        _fail(exc)
    sys.exit(code)


@cli.command()
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Config YAML (journal location)."
)
@click.option("--terminal", "terminals", multiple=True, help="Terminal id (repeatable; default: all).")
@click.option("--since", default="1h", show_default=True, help="ISO date/time (UTC) or age: 30m, 6h, 2d.")
@click.option("--until", "until", default=None, help="ISO date/time (UTC); default now.")
@click.option("--kind", type=click.Choice([k.value for k in ProbeKind]), default=None)
@click.option("--journal", type=click.Path(dir_okay=False), help="Journal file (default: from the config).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def samples(
    config_path: str | None,
    terminals: tuple[str, ...],
    since: str,
    until: str | None,
    kind: str | None,
    journal: str | None,
    fmt: str,
) -> None:
    """Read back stored samples."""
    config = _load_config(config_path)
    now = time.time_ns()
    try:
        start, end = parse_time(since, now), parse_time(until, now) if until else now
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    try:
        store = JournalStore(journal or config.journal_path, readonly=True)
    except JournalError as exc:
        _fail(exc)
    kinds = [ProbeKind(kind)] if kind else None
    rows = list(store.samples(start, end, list(terminals) or None, kinds))
    click.echo(render_samples_json(rows) if fmt == "json" else render_samples_table(rows))


@cli.command()
@click.option("--terminals", type=click.IntRange(1, 1820), default=None, help="Only the first N terminals.")
@click.option("--minutes", type=float, default=None, help="Stop after this long (default: until Ctrl-C).")
@click.option("--interval", "interval_s", type=click.FloatRange(5, 3600), default=60.0, show_default=True)
@click.option("--state-dir", type=click.Path(file_okay=False), default="demo-state", show_default=True)
def demo(terminals: int | None, minutes: float | None, interval_s: float, state_dir: str) -> None:
    """Probe the simulated province network (the lab) with the real daemon; show samples arriving."""
    from slaprobe.demo import run_demo

    setup_logging("warning", "text")
    sys.exit(run_demo(state_dir=Path(state_dir), terminals=terminals, minutes=minutes, interval_s=interval_s))


# ---------------------------------------------------------------- probe (one-shot ICMP / icmp-jitter)


@cli.command("probe")
@click.argument("addresses", nargs=-1, required=True)
@click.option("--kind", type=click.Choice(["icmp", "icmp-jitter"]), default="icmp", show_default=True)
@click.option("--count", type=click.IntRange(1, 65536), help="echoes per target [icmp 5, icmp-jitter 20]")
@click.option("--interval", "interval_ms", type=click.FloatRange(min=0), help="ms between echoes [200 / 20]")
@click.option("--timeout", "timeout_ms", type=click.FloatRange(min=0, min_open=True), help="ms [1000]")
@click.option("--dscp", type=click.IntRange(0, 63), help="DSCP of the echoes [34 = AF41]")
@click.option("--size", "payload_size", type=click.IntRange(8, 65000), help="ICMP payload bytes [56]")
@click.option("--source", "sources", multiple=True, help="source address (once per IP version)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def probe(addresses: tuple[str, ...], kind: str, sources: tuple[str, ...], fmt: str, **opts: object) -> None:
    """Probe ADDRESS... once (exit 0: all answered, 1: some did not, 2: bad usage, 3: cannot probe)."""
    from slaprobe.model import ProbeKind
    from slaprobe.probes.oneshot import build_settings, parse_targets, probe_once

    try:
        targets = parse_targets(addresses)
        settings = build_settings(ProbeKind(kind), sources, **opts)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        samples = probe_once(ProbeKind(kind), settings, targets)
    except OSError as exc:  # includes IcmpPermissionError
        err = click.ClickException(str(exc))
        err.exit_code = 3
        raise err from None
    names = {t.terminal: str(t.address) for t in targets}
    click.echo(render_samples_json(samples, names) if fmt == "json" else render_samples_table(samples))
    if any(s.received == 0 for s in samples):
        raise SystemExit(1)


# ---------------------------------------------------------------- lab (simulated terminal network)


@cli.group("lab")
def lab_group() -> None:
    """Simulated terminal network: a TUN responder in its own network namespace."""


@lab_group.command("serve")
@click.option("--profile", "profile_path", required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--netns", help="namespace name (default slp-lab-<pid>-1); must not exist yet")
@click.option("--truth", type=click.Path(dir_okay=False), help="write ground truth (JSON lines) here")
@click.option("--no-packets", is_flag=True, help="ground truth without per-packet records (counters only)")
def lab_serve(profile_path: str, netns: str | None, truth: str | None, no_packets: bool) -> None:
    """Serve the lab in the foreground until Ctrl-C / SIGTERM; probers run inside its namespace."""
    from slaprobe.lab import Lab, ProfileError, load_profile
    from slaprobe.lab.control import describe, wait_for_stop_signal

    try:
        profile = load_profile(profile_path)
    except ProfileError as exc:
        raise click.ClickException(str(exc)) from exc
    with Lab.start(
        profile, truth=truth or False, netns=netns, packets=bool(truth) and not no_packets
    ) as running:
        click.echo(describe(running), nl=False)
        wait_for_stop_signal()
    click.echo(
        f"stopped; namespace {running.netns} removed" + (f"; ground truth in {truth}" if truth else "")
    )


# ---------------------------------------------------------------- reflect (STAMP / RTP echo reflector)


# ---------------------------------------------------------------- store check, status (InfluxDB, shipper)


@cli.group()
def store() -> None:
    """The InfluxDB store: check the connection."""


@store.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
def store_check(config_path: str | None, as_json: bool) -> None:
    """Is InfluxDB reachable, which API does it speak, can these credentials write and read? Exit 1 if not."""
    from slaprobe.store.check import check_store

    cfg = _load_config(config_path)
    report = check_store(cfg.influx, cfg.vantage)
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.render())
    sys.exit(0 if report.ok else 1)


@cli.command("status")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable status.")
def status_cmd(config_path: str | None, as_json: bool) -> None:
    """The daemon's view from its journal: cycles, late/skipped terminals, InfluxDB backlog."""
    from slaprobe.status import collect_status, render_status

    cfg = _load_config(config_path)
    try:
        st = collect_status(cfg.journal_path, cfg.store.kind, cfg.shipper.journal_cap_mb)
    except JournalError as exc:
        _fail(exc)
    click.echo(json.dumps(st.to_dict(), indent=2) if as_json else render_status(st, time.time_ns()))


# ---------------------------------------------------------------- report, reconcile (SLA engine, money)


def _money_inputs(
    config_path: str | None, contract: str | None, inventory_path: str | None, availability: str
):
    """Contract and inventory default to the config's ``sla.contract`` and ``inventory``."""
    from slaprobe.settle import load_inputs

    config = _load_config(config_path)
    contract_path = contract or (config.resolve(config.sla.contract) if config.sla.contract else None)
    if not contract_path:
        raise click.UsageError("no contract: pass --contract FILE or set sla.contract in the config")
    try:
        return load_inputs(contract_path, inventory_path or config.resolve(config.inventory), availability)
    except ConfigError as exc:
        _fail(exc)


def _money_options(f):  # type: ignore[no-untyped-def]
    for option in reversed(
        [
            config_option,
            click.option(
                "--contract", type=click.Path(dir_okay=False), help="Contract YAML [config sla.contract]."
            ),
            click.option(
                "--inventory", "inventory_path", type=click.Path(dir_okay=False), help="[config inventory]"
            ),
            click.option(
                "--availability",
                type=click.Path(dir_okay=False),
                required=True,
                help="Monthly availability (JSON lines from the SLA engine).",
            ),
            click.option(
                "--format", "fmt", type=click.Choice(["table", "csv", "markdown", "json"]), default="table"
            ),
            click.option("--lang", type=click.Choice(["zh", "en"]), default="zh", show_default=True),
        ]
    ):
        f = option(f)
    return f


@cli.command("reconcile")
@click.option("--quarter", help="e.g. 2022Q4")
@click.option("--year", type=int, help="the whole contract year")
@click.option("--month", help="e.g. 2022-03")
@click.option("--invoice", type=click.Path(exists=True, dir_okay=False), help="A carrier's bill (CSV).")
@_money_options
def reconcile_cmd(quarter, year, month, invoice, **opts):  # type: ignore[no-untyped-def]
    """Settle a quarter or year per carrier: fees, deductions with reasons, installments, balance due."""
    from slaprobe.settle import reconcile_report
    from slaprobe.sla.periods import Period
    from slaprobe.sla.reconcile import ReconcileError

    chosen = [p for p in (quarter, None if year is None else str(year), month) if p]
    if len(chosen) != 1:
        raise click.UsageError("give exactly one of --quarter, --year, --month")
    try:
        period = Period.parse(chosen[0])
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    inputs = _money_inputs(
        opts["config_path"], opts["contract"], opts["inventory_path"], opts["availability"]
    )
    try:
        click.echo(reconcile_report(inputs, period, invoice, opts["fmt"], opts["lang"]), nl=False)
    except (ConfigError, ReconcileError) as exc:
        _fail(exc)


@cli.command("evaluation")
@click.option("--year", type=int, required=True)
@_money_options
def evaluation_cmd(year, **opts):  # type: ignore[no-untyped-def]
    """The annual performance evaluation's output indicators (coverage, availability, open terminals)."""
    from slaprobe.settle import evaluation_report

    inputs = _money_inputs(
        opts["config_path"], opts["contract"], opts["inventory_path"], opts["availability"]
    )
    try:
        click.echo(evaluation_report(inputs, year, opts["fmt"], opts["lang"]), nl=False)
    except ValueError as exc:
        _fail(exc)


def main() -> None:
    cli()
