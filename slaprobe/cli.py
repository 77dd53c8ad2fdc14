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


# ---------------------------------------------------------------- lab (simulated terminal network)


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
def reflect(stamp_port, no_stamp, rtp_port, mode, allow, rate_limit, bind) -> None:
    """Answer STAMP (RFC 8762) and RTP echo probes for this site until SIGINT / SIGTERM."""
    import asyncio

    from slaprobe.probes.reflect_server import ReflectMode, ReflectorSettings, run_reflector

    try:
        settings = ReflectorSettings(
            stamp_port=None if no_stamp else stamp_port, rtp_port=rtp_port, mode=ReflectMode(mode),
            allow=tuple(allow), rate_limit_pps=rate_limit, bind=tuple(bind) or ("0.0.0.0", "::"),
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
    click.echo(
        f"received {counters.received} answered {counters.answered} denied {counters.denied} "
        f"rate_limited {counters.rate_limited} malformed {counters.malformed}"
    )


# ---------------------------------------------------------------- store check, status (InfluxDB, shipper)


# ---------------------------------------------------------------- report, reconcile (SLA engine, money)


def main() -> None:
    cli()
