"""``slaprobe demo``: the whole product on the simulated province network, watchable in one terminal.

It starts the TUN lab for the example inventory (realistic delays, a few lossy villages, one scripted
outage), runs the real daemon inside the lab's namespace on the embedded store, prints what the journal
holds after every cycle, and — when the time is up or on Ctrl-C — prints the SLA report of what it probed,
in which the scripted outage is an outage. Nothing here is special-cased: it is the daemon an operator
runs, pointed at the lab, and the report ``slaprobe report`` prints.

The demo leaves a working setup behind in its state directory: ``slaprobe.yaml`` (config), the inventory
it probed, a contract and evaluation inputs for the current year and the journal, so the follow-up
commands (``slaprobe report --month ...``, ``reconcile``, ``status``, ``samples``; ``evaluation`` with
``--inputs``) find everything without flags
(``./demo-state/slaprobe.yaml`` is on the config search path, see ``configpath.py``).

Why the rule is scaled: the product default is MEF 10.3 with Δt 60 s and n = 5, so an outage must last
five minutes before it counts. A demo of a few minutes uses Δt = the probe cycle and n = 3, and a scripted
outage of nine cycles: it qualifies, and a blip of one or two cycles still would not.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml

from slaprobe import sample_network
from slaprobe.config import Config, SlaConfig, load_config
from slaprobe.daemon import Daemon
from slaprobe.examples import EXAMPLE_CONTRACT, EXAMPLE_EVALUATION_INPUTS
from slaprobe.inventory import Inventory, write_csv
from slaprobe.lab import Lab, LabProfile
from slaprobe.model import Sample
from slaprobe.sla.aggregate import QualityTable
from slaprobe.sla.engine import MonthReport
from slaprobe.store.journal import JournalStore
from slaprobe.terminal import Terminal

# The demo needs no repository checkout: the example network is generated (it is what
# config/terminals.example.csv holds: `slaprobe inventory generate`, seed 2022) and the example contract is
# package data (slaprobe/examples.py: a copy of config/contract.example.yaml, like the evaluation inputs).
EXAMPLE_TERMINALS = 1820
EXAMPLE_SEED = 2022
CONFIG_NAME = "slaprobe.yaml"
EVALUATION_INPUTS_NAME = "evaluation-inputs.yaml"  # not in the config: `evaluation --inputs` names it
DEMO_CONSECUTIVE = 3  # n of the demo's rule (production default: 5)
OUTAGE_AFTER_CYCLES = 4  # the scripted outage starts after this many probe cycles
OUTAGE_CYCLES = 9  # and lasts this many: n = 3 intervals qualify, with room for the edges
REPORT_ROWS = 15  # terminals shown in the closing report (most downtime first)

_BASE_DELAY_MS = {"province": 2.0, "province_dept": 3.0, "city": 8.0, "city_dept": 10.0}


def example_inventory() -> Inventory:
    """The example province network (the terminals of config/terminals.example.csv), built in memory."""
    return Inventory(tuple(sample_network.generate(EXAMPLE_TERMINALS, seed=EXAMPLE_SEED)))


def demo_profile(
    terminals: Sequence[Terminal], seed: int = 7, outage_after_s: float = 40.0, outage_s: float = 90.0
) -> LabProfile:
    """Impairments that look like a province: fast cities, slower villages, some loss, one outage."""
    rng = random.Random(seed)
    per: dict[str, dict[str, float]] = {}
    for t in terminals:
        delay = _BASE_DELAY_MS.get(t.level.value, 20.0)
        per[t.id] = {"delay_ms": delay + rng.uniform(0, delay), "jitter_ms": rng.choice((0.0, 0.5, 2.0))}
        if rng.random() < 0.03:
            per[t.id]["loss"] = rng.choice((0.01, 0.05, 0.2))
    return LabProfile.build(
        terminals=[(t.id, str(t.address)) for t in terminals],
        per_terminal=per,
        outages=[
            {"terminals": outage_victims(terminals), "start_offset_s": outage_after_s, "duration_s": outage_s}
        ],
        seed=seed,
    )


def outage_victims(terminals: Sequence[Terminal]) -> list[str]:
    """Three Sansha terminals (the remotest islands), or the last terminal of a small demo."""
    return [t.id for t in terminals if t.region == "sansha"][:3] or [terminals[-1].id]


def demo_interval_s(cycle_s: float) -> int:
    """Δt for the demo: the probe cycle rounded up to a whole divisor of 3600 (hourly rollups)."""
    return next(d for d in range(max(1, int(-(-cycle_s // 1))), 3601) if 3600 % d == 0)


def demo_evaluation_inputs(year: int) -> str:
    """The example evaluation inputs moved to ``year``, the demo contract's year, so ``slaprobe evaluation
    --year Y --inputs demo-state/evaluation-inputs.yaml`` scores the demo's year. Edited as text, not
    re-dumped: the example's comments (each value's source, the scoring rule) are the point of it."""
    text = EXAMPLE_EVALUATION_INPUTS.read_text(encoding="utf-8")
    moved, n = re.subn(r"^year: \d{4}\b", f"year: {year}", text, count=1, flags=re.MULTILINE)
    if n != 1:  # the example lost its top-level year: a demo that scores nothing would hide that
        raise ValueError(f"{EXAMPLE_EVALUATION_INPUTS}: no top-level 'year:' line to move")
    return f"# Written by `slaprobe demo`: the example below, its year moved to {year}.\n" + moved


def write_demo_setup(state_dir: Path, inventory: Inventory, cycle_s: float, today: dt.date) -> Path:
    """The config, inventory, contract and evaluation inputs the demo runs with, left behind for the
    follow-up commands.

    The contract is the 2022 example moved to this year (its 2022 installments dropped), so
    ``slaprobe reconcile`` settles the demo's month with the example's prices and deduction tables; the
    evaluation inputs are the example's too (same budget), so ``slaprobe evaluation`` scores this year."""
    state_dir = state_dir.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    write_csv(inventory.terminals, state_dir / "terminals.csv")
    contract = yaml.safe_load(EXAMPLE_CONTRACT.read_text(encoding="utf-8"))
    contract["year"] = today.year
    contract["payments"] = {"budget": contract.get("payments", {}).get("budget", "0")}
    for signed in (contract.get("contracts") or {}).values():  # each signed contract's own payments
        signed["payments"] = {"budget": signed.get("payments", {}).get("budget", "0")}
    # a demo measures minutes of the month: settle on them anyway (the example's treatment stays)
    contract.pop("min_measured_percent", None)
    contract.setdefault("unmeasured", {})["min_measured_percent"] = "0"
    contract["name"] = {k: f"{v} (demo: {today.year})" for k, v in contract["name"].items()}
    (state_dir / "contract.yaml").write_text(yaml.safe_dump(contract, allow_unicode=True), encoding="utf-8")
    (state_dir / EVALUATION_INPUTS_NAME).write_text(demo_evaluation_inputs(today.year), encoding="utf-8")
    config = {
        "vantage": "demo",
        "inventory": "terminals.csv",
        "state_dir": str(state_dir),
        "schedule": {"interval_s": cycle_s},
        "sla": {
            "preset": "mef10.3",
            "interval_s": demo_interval_s(cycle_s),
            "consecutive": DEMO_CONSECUTIVE,
            "contract": "contract.yaml",
        },
        "log": {"level": "warning", "format": "text"},
    }
    path = state_dir / CONFIG_NAME
    header = (
        "# Written by `slaprobe demo`: the setup it probed with (the lab's namespace is gone once it ends).\n"
        "# report / reconcile / evaluation / status / samples find this file as ./demo-state/slaprobe.yaml.\n"
    )
    path.write_text(header + yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _summary(samples: Sequence[Sample], total: int) -> str:
    measured = [s for s in samples if s.measured]
    lossy = [s for s in measured if s.received < s.sent]
    down = [s for s in measured if s.received == 0]
    rtts = [s.rtt_p50_ms for s in measured if s.rtt_p50_ms is not None]
    median = f"{statistics.median(rtts):.1f} ms" if rtts else "-"
    names = sorted({s.terminal for s in down})[:5]
    return (
        f"journal {total:7d} samples (+{len(samples)})  {len(lossy):4d} with loss  {len(down):3d} no answer  "
        f"median RTT {median}" + (f"  down: {', '.join(names)}" if names else "")
    )


def new_rows(journal: JournalStore, after_id: int) -> tuple[list[Sample], int]:
    """Samples the journal committed after row ``after_id`` (what it holds, not what was sent)."""
    rows = journal.rows_after(after_id, 1_000_000)
    return [r.sample for r in rows], (rows[-1].id if rows else after_id)


async def _watch(journal: JournalStore, echo: Callable[[str], None], every_s: float) -> None:
    last_id = 0
    while True:
        await asyncio.sleep(every_s)
        rows, last_id = new_rows(journal, last_id)
        echo(f"{time.strftime('%H:%M:%S')}  {_summary(rows, journal.count_samples())}")


async def _run(daemon: Daemon, minutes: float | None, echo: Callable[[str], None], every_s: float) -> int:
    watcher = asyncio.ensure_future(_watch(daemon.store, echo, every_s))
    runner = asyncio.ensure_future(daemon.run())
    if minutes is not None:
        asyncio.get_running_loop().call_later(minutes * 60, daemon.stop)
    try:
        return await runner
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


def trimmed(report: MonthReport, rows: int) -> MonthReport:
    """The report with only the ``rows`` terminals with the most downtime listed (aggregates unchanged:
    they cover every terminal)."""
    if len(report.terminals) <= rows:
        return report
    order = sorted(
        range(len(report.results)),
        key=lambda i: (-report.results[i].unavailable_s, -report.results[i].high_loss_intervals, i),
    )
    keep = sorted(order[:rows])
    quality = report.quality
    if quality is not None:
        quality = QualityTable(
            {k: v[keep] for k, v in quality.scalars.items()}, quality.rtt[keep], quality.jit[keep]
        )
    return replace(
        report,
        terminals=tuple(report.terminals[i] for i in keep),
        results=tuple(report.results[i] for i in keep),
        quality=quality,
    )


def closing_report(config: Config, months: Sequence[str], echo: Callable[[str], None]) -> list[MonthReport]:
    """What ``slaprobe report --month M --lang en`` prints, for each month the demo touched."""
    from slaprobe.report.availability_text import render
    from slaprobe.sla_report import ReportRequest, build_report

    reports = []
    for month in months:
        report = build_report(config, ReportRequest(month))
        reports.append(report)
        shown = trimmed(report, REPORT_ROWS)
        echo("")
        echo(render(shown, "table", "en").rstrip("\n"))
        if shown is not report:
            echo(
                f"(terminals: the {len(shown.terminals)} with the most downtime of {len(report.terminals)}; "
                f"all of them: slaprobe report --month {month} --lang en)"
            )
    return reports


def opened_this_month(inventory: Inventory, today: dt.date) -> Inventory:
    """The example network as if it opened on the 1st of this month (later openings kept).

    The example inventory opens terminals from 2022 on; a demo that ran for minutes of this month would
    otherwise leave January to last month in service and unmeasured, and ``slaprobe reconcile`` (year to
    date) would rightly refuse to settle them without ``--allow-empty``. Retired terminals stay retired."""
    first = today.replace(day=1)
    moved = [
        replace(t, in_service_from=max(t.in_service_from, first))
        if t.in_service_to is None or t.in_service_to >= first
        else t
        for t in inventory.terminals
    ]
    return Inventory(tuple(moved), inventory.carriers, inventory.tiers)


def _shown(path: Path) -> str:
    """``path`` as a pasted command should name it: relative to the working directory when inside it."""
    with contextlib.suppress(ValueError):
        return str(path.resolve().relative_to(Path.cwd()))
    return str(path.resolve())


def _program() -> str:
    """How to call slaprobe again, as this process was called (``.venv/bin/slaprobe`` after ``make demo``,
    plain ``slaprobe`` when it is on PATH), so the printed follow-up commands work when pasted."""
    argv0 = Path(sys.argv[0])
    if argv0.name == "slaprobe":
        found = shutil.which("slaprobe")
        if found and Path(found).resolve() == argv0.resolve():
            return "slaprobe"
        with contextlib.suppress(ValueError):
            return str(argv0.resolve().relative_to(Path.cwd()))
        return str(argv0)
    return f"{Path(sys.executable).name} -m slaprobe"


def run_demo(
    *,
    state_dir: Path,
    terminals: int | None = None,
    minutes: float | None = None,
    interval_s: float = 10.0,
    echo: Callable[[str], None] = print,
) -> int:
    inventory = example_inventory()
    if terminals is not None:
        inventory = Inventory(inventory.terminals[:terminals], inventory.carriers, inventory.tiers)
    started = dt.datetime.now(dt.UTC)
    today = started.astimezone(ZoneInfo(SlaConfig().timezone)).date()  # months are local (sla.timezone)
    inventory = opened_this_month(inventory, today)
    config_path = write_demo_setup(state_dir, inventory, interval_s, today)
    config = load_config(config_path)
    delta = config.sla.interval_s or 60
    outage_after, outage_s = OUTAGE_AFTER_CYCLES * interval_s, OUTAGE_CYCLES * interval_s
    victims = outage_victims(inventory.terminals)
    with Lab.start(
        demo_profile(inventory.terminals, outage_after_s=outage_after, outage_s=outage_s), truth=False
    ) as lab:
        echo(
            f"lab {lab.netns}: {len(inventory)} simulated terminals answering\n"
            f"config: {config_path}  journal: {config.journal_path}\n"
            f"probing every {interval_s:g} s; scripted outage of {', '.join(victims)}: "
            f"{outage_s:g} s from {outage_after:g} s after the start"
            + (f"; stopping after {minutes:g} min" if minutes is not None else "")
            + " (Ctrl-C stops and prints the report)"
        )
        daemon = Daemon(replace(config, netns=lab.netns), inventory=inventory)
        code = asyncio.run(_run(daemon, minutes, echo, interval_s))
    with JournalStore(config.journal_path, readonly=True) as journal:  # the probes drained at the stop
        echo(f"{time.strftime('%H:%M:%S')}  journal {journal.count_samples():7d} samples (stopped)")
    ended = dt.datetime.now(dt.UTC)
    tz = ZoneInfo(config.sla.timezone)
    months = sorted({f"{t.astimezone(tz):%Y-%m}" for t in (started, ended)})
    prog = _program()
    echo(
        f"\nSLA report of what was probed. Rule: MEF 10.3 with Δt {delta} s and n = {DEMO_CONSECUTIVE} "
        f"(loss > 0.75 in {DEMO_CONSECUTIVE} intervals in a row starts an outage). Why: the product "
        f"default (Δt 60 s, n = 5) only counts outages of 5 minutes or more; the demo scales Δt to its "
        f"{interval_s:g} s probe cycle so its {outage_s:g}-second outage qualifies. Time before the "
        "first cycle and after the last is UNKNOWN: it counts for nobody."
    )
    closing_report(config, months, echo)
    month = months[-1]
    inputs = _shown(state_dir / EVALUATION_INPUTS_NAME)
    echo(
        "\nfollow-up commands (they read ./demo-state/slaprobe.yaml; run them from this directory):\n"
        f"  {prog} report --month {month} --lang en\n"
        f"  {prog} reconcile --month {month} --lang en\n"
        f"  {prog} evaluation --year {today.year} --inputs {inputs} --lang en\n"
        f"  {prog} status\n"
        f"  {prog} samples --since 1h --terminal {victims[0]}"
    )
    return code
