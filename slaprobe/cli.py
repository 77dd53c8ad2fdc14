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


def _load_cfg(path: str) -> Config:
    from slaprobe.configload import ConfigError

    try:
        return load_config(path)
    except (ConfigError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc


@cli.group()
def store() -> None:
    """The InfluxDB store: check the connection."""


@store.command("check")
@click.option("--config", "-c", "config_path", default=str(DEFAULT_CONFIG_PATH), show_default=True)
@click.option("--json", "as_json", is_flag=True, help="machine-readable report")
def store_check(config_path: str, as_json: bool) -> None:
    """Is InfluxDB reachable, which API does it speak, can these credentials write and read?"""
    from slaprobe.store.check import check_store

    cfg = _load_cfg(config_path)
    report = check_store(cfg.influx, cfg.vantage)
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.render())
    sys.exit(0 if report.ok else 1)


@cli.command("status")
@click.option("--config", "-c", "config_path", default=str(DEFAULT_CONFIG_PATH), show_default=True)
@click.option("--json", "as_json", is_flag=True, help="machine-readable status")
def status_cmd(config_path: str, as_json: bool) -> None:
    """The daemon's view from its journal: cycles, late/skipped terminals, InfluxDB backlog."""
    from slaprobe.status import collect_status, render_status
    from slaprobe.store.journal import JournalError

    cfg = _load_cfg(config_path)
    try:
        st = collect_status(cfg.journal_path, cfg.store.kind, cfg.shipper.journal_cap_mb)
    except JournalError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(json.dumps(st.to_dict(), indent=2) if as_json else render_status(st, time.time_ns()))



# ---------------------------------------------------------------- report, reconcile (SLA engine, money)


def main() -> None:
    cli()
