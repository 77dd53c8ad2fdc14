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


# ---------------------------------------------------------------- reflect (STAMP / RTP echo reflector)


# ---------------------------------------------------------------- store check, status (InfluxDB, shipper)


# ---------------------------------------------------------------- report, reconcile (SLA engine, money)


def main() -> None:
    cli()
