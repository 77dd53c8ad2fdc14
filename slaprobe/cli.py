"""The command line: a click group whose commands are a few lines each over the library.

Sections below are grouped by area; each command parses options, calls one library function and renders.
The SLA and money commands live in ``cli_money.py`` (report, reconcile, evaluation), the store commands in
``cli_store.py`` and ``outages`` in ``cli_outages.py``; their shared options are in ``cli_common.py``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import click

from slaprobe import __version__, sample_network
from slaprobe.cli_common import (
    _fail,
    _load_config,
    config_option,
    journal_option,
)
from slaprobe.cli_money import evaluation_cmd, reconcile_cmd, report_cmd
from slaprobe.cli_outages import outages_cmd
from slaprobe.cli_store import store
from slaprobe.config import with_overrides
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


@cli.command()
@config_option
@click.option("--vantage", help="This probe host's id (overrides the config's vantage).")
@click.option("--shard", help="Probe only shard K of N of the inventory, e.g. 2/3 (overrides shard.*).")
@click.option("--region", "regions", multiple=True, help="Probe only this region (repeatable).")
def run(config_path: str | None, vantage: str | None, shard: str | None, regions: tuple[str, ...]) -> None:
    """Run the probe daemon in the foreground (SIGTERM drains, SIGHUP reloads the inventory)."""
    config = _load_config(config_path)
    try:
        config = with_overrides(config, vantage=vantage, shard=shard, regions=regions)
    except ConfigError as exc:
        _fail(exc)
    setup_logging(config.log.level, config.log.format)
    try:
        code = run_daemon(config)
    except ConfigError as exc:
        _fail(exc)
    sys.exit(code)


@cli.command()
@config_option
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
    from slaprobe.storage import read_samples, tier_path
    from slaprobe.store.columnar import Tier

    try:
        store = JournalStore(journal or config.journal_path, readonly=True)
    except JournalError as exc:
        _fail(exc)
    kinds = [ProbeKind(kind)] if kind else None
    tier = Tier(tier_path(config, journal))  # closed days compacted out of the journal
    rows = read_samples(store, tier, start, end, list(terminals) or None, kinds)
    table = render_samples_table(rows, show_time=True, show_vantage=True)
    click.echo(render_samples_json(rows) if fmt == "json" else table)


@cli.command()
@click.option("--terminals", type=click.IntRange(1, 1820), default=None, help="Only the first N terminals.")
@click.option("--minutes", type=float, default=None, help="Stop after this long (default: until Ctrl-C).")
@click.option(
    "--interval", "interval_s", type=click.FloatRange(5, 3600), default=10.0, show_default=True,
    help="Probe cycle, s; the demo's SLA rule uses it as Δt (n = 3) so its scripted outage qualifies.",
)  # fmt: skip
@click.option("--state-dir", type=click.Path(file_okay=False), default="demo-state", show_default=True)
def demo(terminals: int | None, minutes: float | None, interval_s: float, state_dir: str) -> None:
    """Probe the simulated province network (the lab) with the real daemon; show what the journal
    holds; at the end (or Ctrl-C) print the SLA report of what was probed. Leaves STATE_DIR/slaprobe.yaml
    for the follow-up commands."""
    from slaprobe.demo import run_demo

    setup_logging("warning", "text")
    sys.exit(run_demo(state_dir=Path(state_dir), terminals=terminals, minutes=minutes, interval_s=interval_s))


# ---------------------------------------------------------------- probe (one-shot ICMP / icmp-jitter)


@cli.command("probe")
@click.argument("targets", nargs=-1, required=True, metavar="TARGET...")
@click.option(
    "--kind", type=click.Choice(["icmp", "icmp-jitter", "stamp", "rtp"]), default="icmp", show_default=True
)
@click.option("-4", "family", flag_value=4, help="Resolve host names to IPv4 only.")
@click.option("-6", "family", flag_value=6, help="Resolve host names to IPv6 only.")
@click.option(
    "--count", type=click.IntRange(1, 65536), help="packets per target [icmp 5, icmp-jitter 20, streams 100]"
)
@click.option(
    "--interval", "interval_ms", type=click.FloatRange(min=0), help="ms between packets [200 / 20 / 20]"
)
@click.option("--timeout", "timeout_ms", type=click.FloatRange(min=0, min_open=True), help="ms [1000]")
@click.option("--dscp", type=click.IntRange(0, 63), help="DSCP of the packets [34 = AF41]")
@click.option("--size", "payload_size", type=click.IntRange(8, 65000), help="ICMP payload bytes [56]")
@click.option("--source", "sources", multiple=True, help="ICMP source address (once per IP version)")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def probe(
    targets: tuple[str, ...],
    kind: str,
    family: int | None,
    sources: tuple[str, ...],
    fmt: str,
    **opts: object,
) -> None:
    """Probe TARGET... once, as the daemon would (exit 0: all answered, 1: some did not, 2: bad usage,
    3: cannot probe). TARGET is an address or host name; stamp / rtp take HOST:PORT or [V6]:PORT too
    (default port: STAMP 862, RTP echo 5004). JSON rows carry the daemon's Sample fields."""
    from slaprobe.model import ProbeKind
    from slaprobe.probes.oneshot import build_settings, parse_targets, probe_once

    try:
        parsed = parse_targets(targets, ProbeKind(kind), family)
        settings = build_settings(ProbeKind(kind), sources, **opts)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        samples = probe_once(ProbeKind(kind), settings, parsed)
    except OSError as exc:  # includes IcmpPermissionError
        err = click.ClickException(str(exc))
        err.exit_code = 3
        raise err from None
    names = {t.terminal: str(t.address) for t in parsed}
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
@click.option("--udp", multiple=True, metavar="PORT=MODULE:FUNC", help="extra UDP handler (repeatable)")
def lab_serve(
    profile_path: str, netns: str | None, truth: str | None, no_packets: bool, udp: tuple[str, ...]
) -> None:
    """Serve the lab in the foreground until Ctrl-C / SIGTERM; probers run inside its namespace."""
    from slaprobe.lab import Lab, ProfileError, load_profile
    from slaprobe.lab.control import describe, wait_for_stop_signal

    try:
        profile = load_profile(profile_path)
        handlers = {int(port): spec for port, _, spec in (u.partition("=") for u in udp)}
    except (ProfileError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    packets = bool(truth) and not no_packets
    with Lab.start(profile, truth=truth or False, netns=netns, udp=handlers, packets=packets) as running:
        click.echo(describe(running), nl=False)
        wait_for_stop_signal()
    click.echo(
        f"stopped; namespace {running.netns} removed" + (f"; ground truth in {truth}" if truth else "")
    )


@lab_group.command("month")
@config_option
@click.option("--terminals", "n", type=click.IntRange(1, 65_000), default=1820, show_default=True)
@click.option("--month", required=True, help="YYYY-MM (local month, profile timezone)")
@click.option(
    "--profile", "profile_path", type=click.Path(exists=True, dir_okay=False), help="month profile YAML"
)
@click.option("--store", "store_kind", type=click.Choice(["embedded", "influx"]), default="embedded")
@click.option("--journal", type=click.Path(dir_okay=False), help="journal file [OUT/journal.sqlite]")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), required=True, help="side files here")
@click.option(
    "--tier",
    type=click.Choice(["columnar", "journal"]),
    default="columnar",
    show_default=True,
    help="Embedded store: every day compacted into the columnar tier (what the daemon keeps of a past "
    "month), or every row in the SQLite journal.",
)
@click.option(
    "--columnar", "columnar_dir", type=click.Path(file_okay=False), help="columnar tier [OUT/columnar]"
)
@click.option("--replace", is_flag=True, help="Delete an existing journal / tier first (default: refuse it).")
def lab_month(config_path, n, month, profile_path, store_kind, journal, out_dir, tier, columnar_dir, replace):  # type: ignore[no-untyped-def]
    """A synthetic month of samples and heartbeats into a store; inventory, maintenance, truth in OUT.

    Cycles are shaped by the config's ``schedule`` (slot_ms, spread, reference_targets) like the daemon's.
    """
    from slaprobe.lab.month import MonthProfileError, load_month_profile
    from slaprobe.lab.month_output import Tier, generate_month

    try:
        profile = load_month_profile(profile_path)
    except MonthProfileError as exc:
        raise click.ClickException(str(exc)) from exc
    cfg = _load_config(config_path)

    def progress(done: int, total: int) -> None:
        if done % 24 == 0 or done == total:
            click.echo(f"{done}/{total} hours", err=True)

    try:
        plan, count = generate_month(
            n, month, profile, out_dir, store_kind, journal, cfg.influx, progress, cfg.schedule, replace,
            Tier(tier), columnar_dir,
        )  # fmt: skip
    except MonthProfileError as exc:  # MonthOutputError: the journal already holds a month
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{count} samples of {len(plan.terminals)} terminals written; truth in {out_dir}/truth.json")


# ---------------------------------------------------------------- reflect (STAMP / RTP echo reflector)


@cli.command()
@click.option(
    "--stamp-port", type=click.IntRange(0, 65535), default=862, show_default=True, help="0 = any free port"
)
@click.option("--no-stamp", is_flag=True, help="Do not serve STAMP.")
@click.option("--rtp-port", type=click.IntRange(0, 65535), default=None, help="Serve RTP echo on this port.")
@click.option("--mode", type=click.Choice(["stateless", "stateful"]), default="stateful", show_default=True)
@click.option(
    "--allow", multiple=True, metavar="CIDR", help="Answer only these source networks (repeatable)."
)
@click.option("--rate-limit", type=float, default=500.0, show_default=True, help="Packets/s per source.")
@click.option(
    "--bind", multiple=True, metavar="ADDR", help="Local address (repeatable; default 0.0.0.0 and ::)."
)
@click.option(
    "--rcvbuf", type=click.IntRange(0, 1 << 30), default=4 << 20, show_default=True,
    help="Receive buffer per socket, bytes (0 = kernel default).",
)  # fmt: skip
@click.option(
    "--refuse-source-port", "refuse_ports", multiple=True, type=click.IntRange(0, 65535),
    help="Never answer this source port (repeatable; 0-1023, 5004 and our own ports always are).",
)  # fmt: skip
@click.option(
    "--stats-interval", type=click.FloatRange(0), default=60.0, show_default=True,
    help="Log the counters this often while they change, seconds (0 = never; SIGUSR1 logs them at once).",
)  # fmt: skip
def reflect(
    stamp_port, no_stamp, rtp_port, mode, allow, rate_limit, bind, rcvbuf, refuse_ports, stats_interval
) -> None:
    """Answer STAMP (RFC 8762) and RTP echo probes for this site until SIGINT / SIGTERM."""
    import asyncio

    from slaprobe.probes.reflect_server import ReflectMode, ReflectorSettings, run_reflector

    try:
        settings = ReflectorSettings(
            stamp_port=None if no_stamp else stamp_port, rtp_port=rtp_port, mode=ReflectMode(mode),
            allow=tuple(allow), rate_limit_pps=rate_limit, bind=tuple(bind) or ("0.0.0.0", "::"),
            rcvbuf_bytes=rcvbuf, refuse_source_ports=(5004, *refuse_ports), stats_interval_s=stats_interval,
        )  # fmt: skip
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    def ready(reflector) -> None:
        for addr, port, kind in reflector.addresses:
            click.echo(f"listening {kind} {addr}:{port}")
        click.get_text_stream("stdout").flush()

    try:
        counters = asyncio.run(run_reflector(settings, on_ready=ready))
    except OSError as exc:
        raise click.ClickException(f"cannot serve: {exc}") from None
    click.echo(counters.line())


# ---------------------------------------------------------------- status (store: cli_store.py)


@cli.command("status")
@config_option
@journal_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable status.")
def status_cmd(config_path: str | None, journal: str | None, as_json: bool) -> None:
    """The daemon's view from its journal: cycles, late/skipped terminals, InfluxDB backlog."""
    from slaprobe.status import collect_status, render_status

    cfg = _load_config(config_path)
    try:
        from slaprobe.storage import tier_path

        st = collect_status(
            journal or cfg.journal_path,
            cfg.store.kind,
            cfg.shipper.journal_cap_mb,
            tier=tier_path(cfg, journal),
        )
    except JournalError as exc:
        _fail(exc)
    click.echo(json.dumps(st.to_dict(), indent=2) if as_json else render_status(st, time.time_ns()))


def main() -> None:
    cli()


# Commands kept in their own modules (cli.py stays a table of contents): each imports only cli_common.
for _command in (report_cmd, reconcile_cmd, evaluation_cmd, outages_cmd, store):
    cli.add_command(_command)
