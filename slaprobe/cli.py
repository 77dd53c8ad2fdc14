"""The command line: a click group whose commands are a few lines each over the library."""

from __future__ import annotations

import click

from slaprobe import __version__


@click.group()
@click.version_option(__version__, prog_name="slaprobe")
def cli() -> None:
    """slaprobe: probe every terminal, store every sample, prove the availability the carrier delivered."""


def main() -> None:
    cli()
