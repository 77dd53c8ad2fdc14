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


# ---------------------------------------------------------------- store check, status (InfluxDB, shipper)


# ---------------------------------------------------------------- report, reconcile (SLA engine, money)


def main() -> None:
    cli()
