"""The command line: a click group whose commands are a few lines each over the library.

Sections below are grouped by area; each command parses options, calls one library function and renders.
"""

from __future__ import annotations

import click

from slaprobe import __version__


@click.group()
@click.version_option(__version__, prog_name="slaprobe")
def cli() -> None:
    """slaprobe: probe every terminal, store every sample, prove the availability the carrier delivered."""


# ---------------------------------------------------------------- inventory, run, samples (core)


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
    from slaprobe.report.samples import render_samples_json, render_samples_table

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


# ---------------------------------------------------------------- reflect (STAMP / RTP echo reflector)


# ---------------------------------------------------------------- store check, status (InfluxDB, shipper)


# ---------------------------------------------------------------- report, reconcile (SLA engine, money)


def main() -> None:
    cli()
