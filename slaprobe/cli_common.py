"""What every command module shares: the common options, config loading and how errors end a command.

Kept apart from ``cli.py`` so command modules (``cli_money``, ``cli_store``, ``cli_outages``) import it
without importing the command group itself.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from slaprobe.config import Config, load_config
from slaprobe.configload import ConfigError


def _fail(exc: Exception) -> NoReturn:
    """Config/inventory problems: print every one, exit 2, touch nothing."""
    click.echo(str(exc), err=True)
    sys.exit(2)


config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="SLAPROBE_CONFIG",
    help="Config YAML [env SLAPROBE_CONFIG; else ./slaprobe.yaml, ./demo-state/slaprobe.yaml, "
    "/etc/slaprobe/slaprobe.yaml; else built-in defaults].",
)


store_option = click.option(
    "--store", "store_kind", type=click.Choice(["embedded", "influx"]), help="[config store.kind]"
)
journal_option = click.option(
    "--journal", type=click.Path(dir_okay=False), help="Journal file [config state_dir/journal]."
)
# `evaluation` and `report --year Y --evaluation` take the same file, so every format of either shows the
# same scorecard (slaprobe/sla/evaluation_inputs.py checks it; settle.evaluation_result against the year).
evaluation_inputs_option = click.option(
    "--inputs",
    "inputs_file",
    type=click.Path(dir_okay=False),
    help="Evaluation inputs YAML: what probes cannot measure (funds, satisfaction survey, platform "
    "availability, timeliness, review scores). A template: slaprobe evaluation --example-inputs.",
)
allow_empty_option = click.option(
    "--allow-empty",
    is_flag=True,
    help="A month with no judged interval is reported / settled as unmeasured instead of exit 1.",
)


def _no_data(exc: Exception) -> NoReturn:
    """Nothing could be judged: say what was found, exit 1 (not a usage error, not a success)."""
    click.echo(str(exc), err=True)
    sys.exit(1)


def _load_config(path: str | None) -> Config:
    """``--config`` / ``$SLAPROBE_CONFIG``, else the first file on the search path (named on stderr)."""
    if path is None:
        from slaprobe.configpath import find_config

        found = find_config()
        if found is not None:
            click.echo(f"config: {found} (found on the search path; --config FILE to choose)", err=True)
            path = str(found)
    try:
        return load_config(path)
    except ConfigError as exc:
        _fail(exc)


def _write_xlsx(out: str, sheets: Any) -> None:
    from slaprobe.report.xlsx import write_workbook

    try:
        write_workbook(out, sheets)
    except OSError as exc:
        _fail(ValueError(f"{out}: cannot write the workbook: {exc.strerror or exc}"))


def _check_binary_out(fmt: str | None, out: str | None) -> None:
    """A workbook is binary: it goes to a file, never to the terminal."""
    if fmt == "xlsx" and not out:
        raise click.UsageError("--format xlsx writes a binary workbook: give --out FILE.xlsx")


def _emit(text: str, out: str | None) -> None:
    if out:
        Path(out).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


def store_read_options(f: click.decorators.FC) -> click.decorators.FC:
    """Where a judging command (report, outages) reads from and under which rule: one definition, so the
    commands whose figures must agree cannot drift apart in their defaults."""
    for option in reversed(
        (
            store_option,
            journal_option,
            click.option(
                "--inventory", "inventory_path", type=click.Path(dir_okay=False), help="[config inventory]"
            ),
            click.option(
                "--maintenance",
                type=click.Path(dir_okay=False),
                help="Windows YAML [config sla.maintenance].",
            ),
            click.option(
                "--preset", type=click.Choice(["mef10.3", "y1540", "strict"]), help="[config sla.preset]"
            ),
        )
    ):
        f = option(f)
    return f
