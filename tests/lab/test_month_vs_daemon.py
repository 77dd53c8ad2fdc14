"""A ``lab month`` journal has the shape of a real daemon's journal (issue #10: SLA tests passed on
synthetic data the daemon never wrote).

One inventory, one config (5 s cycles, 50 ms slots, a reference target). The real ``slaprobe run``
probes it on the lab for a few cycles and is stopped mid-cycle (so it skips probes); ``lab month``
writes windows of a month on the same inventory and schedule around its planned outages, high-loss
intervals and skipped probes. The two journals must agree on the shape, never on values: heartbeat keys
and fields, series tags, which columns are filled for each kind and outcome, and where in its cycle each
sample (skipped ones included) is dated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

from slaprobe.config import load_config
from slaprobe.inventory import load_inventory, write_csv
from slaprobe.lab import LabProfile
from slaprobe.lab.month import (
    MonthProfile,
    heartbeats_for,
    hour_arrays,
    month_network,
    plan_month,
    samples_for,
)
from slaprobe.lab.month_bulk import concat
from slaprobe.lab.month_cycles import SKIPPED, CycleSettings
from slaprobe.lab.month_journal import JournalBulkWriter
from slaprobe.model import NS_PER_S, SAMPLE_FIELDS, Heartbeat, Outcome, ProbeKind, Sample, split_cycle
from slaprobe.scheduler import spread_offsets
from slaprobe.store.journal import JournalStore
from tests.helpers import ROOT

INTERVAL_S = 5.0
SLOT_S = 0.05
REFERENCE = "198.18.200.1"
VANTAGE = "probe-1"
LATENESS_S = 2.0  # how late a loaded event loop may start a probe after its slot (its own slot only)


def _inventory(tmp_path: Path) -> Path:
    terms = month_network(6, seed=2022)  # province venue (own group) + default group, both carriers
    terms[1] = dataclasses.replace(  # a STAMP terminal: a second kind, its own cycle
        terms[1], probes=(ProbeKind.ICMP, ProbeKind.STAMP), reflector=(str(terms[1].address), None)
    )
    terms[-1] = dataclasses.replace(terms[-1], in_service_from=dt.date(2099, 1, 1))  # not open: never due
    path = tmp_path / "terminals.csv"
    write_csv(terms, path)
    return path


def _config(tmp_path: Path, netns: str, inventory: Path) -> Path:
    cfg = tmp_path / "slaprobe.yaml"
    cfg.write_text(
        yaml.safe_dump(
            {
                "vantage": VANTAGE,
                "inventory": str(inventory),
                "state_dir": str(tmp_path / "state"),
                "netns": netns,
                "schedule": {
                    "interval_s": INTERVAL_S,
                    "slot_ms": SLOT_S * 1000,
                    "reference_targets": [REFERENCE],
                },
                "probes": {"stamp": {"duration_s": 0.5}},
                "log": {"format": "json", "level": "info"},
            }
        )
    )
    return cfg


def _read(path: Path) -> tuple[list[Sample], list[Heartbeat], set[tuple[str, ...]]]:
    with JournalStore(path, readonly=True) as j:
        samples = list(j.samples(0, 2**62))
        beats = list(j.heartbeats(0, 2**62))
    import sqlite3

    db = sqlite3.connect(path)
    try:
        series = {
            tuple(r) for r in db.execute("SELECT terminal, kind, carrier, region, level, tier FROM series")
        }
    finally:
        db.close()
    return samples, beats, series


def _daemon_journal(tmp_path: Path, lab_factory, inventory: Path) -> Path:  # type: ignore[no-untyped-def]
    terms = load_inventory(inventory).terminals
    profile = LabProfile.build(
        terminals=[(t.id, str(t.address)) for t in terms] + [("REF", REFERENCE)],
        defaults={"delay_ms": 3.0},
        per_terminal={terms[3].id: {"loss": 0.5}},
        outages=[{"terminals": [terms[2].id], "start_offset_s": 0.0, "duration_s": 600.0}],
        udp={862: "slaprobe.probes.reflector:stamp_stateful"},
    )
    lab = lab_factory(profile)
    cfg = _config(tmp_path, lab.netns, inventory)
    journal = tmp_path / "state" / "journal.sqlite"
    log = tmp_path / "daemon.log"
    daemon = subprocess.Popen(
        [sys.executable, "-m", "slaprobe", "run", "--config", str(cfg)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:  # four full cycles of every kind
            if journal.exists():
                with JournalStore(journal, readonly=True) as j:
                    if len(list(j.heartbeats(0, 2**62))) >= 4 * 3:
                        break
            time.sleep(0.5)
        # stop 1.2 s into a cycle: the default group's later slots (1.8 s on) are skipped
        time.sleep((1.2 - time.time() % INTERVAL_S) % INTERVAL_S)
    finally:
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(30)
    assert code == 0, log.read_text()[-3000:]
    return journal


def _month_journal(tmp_path: Path, inventory: Path, cfg: Path) -> Path:
    terms = list(load_inventory(inventory).terminals)
    profile = dataclasses.replace(
        MonthProfile(), vantages=(VANTAGE,), interval_s=int(INTERVAL_S), skipped_per_terminal=50.0,
        outages_per_terminal=3.0, high_loss_share=0.5, degraded_share=1.0, degraded_probability=0.3,
        host_outage_minutes=0, maintenance_windows=0, outages_in_maintenance=0,
    )  # fmt: skip
    plan = plan_month(terms, "2023-03", profile)
    settings = CycleSettings.from_schedule(load_config(cfg).schedule, INTERVAL_S)
    assert (settings.slot_s, settings.references) == (SLOT_S, (REFERENCE,))
    # a few cycles around one event of each kind: outage, 80 % loss, skipped probe
    wanted = {code: None for code in (1, 2, SKIPPED)}
    for p in plan.plans:
        for a, _, code in p.events:
            if code in wanted and wanted[code] is None and a >= 3:
                wanted[code] = a
    assert all(v is not None for v in wanted.values()), wanted
    path = tmp_path / "month.sqlite"
    tags = {t.id: tags for t, tags in zip(terms, _tags(terms), strict=True)}
    with JournalStore(path) as js:
        js.set_terminal_tags(tags)
        for a in sorted(wanted.values()):  # type: ignore[type-var]
            rng = np.random.default_rng(a)
            js.write_samples(samples_for(plan, a - 3, a + 3, VANTAGE, rng, settings))
            js.write_heartbeats(heartbeats_for(plan, a - 3, a + 3, VANTAGE, settings))
    # the same windows through the bulk path (``lab month``'s): numpy columns, one journal batch
    parts, beats = [], []
    for a in sorted(wanted.values()):  # type: ignore[type-var]
        arrays, hb = hour_arrays(plan, a - 3, a + 3, VANTAGE, np.random.default_rng(a), settings)
        parts.append(arrays)
        beats += hb
    with JournalBulkWriter(tmp_path / "bulk.sqlite", tags) as writer:
        writer.write(concat(parts), beats)
    return path


def _tags(terms):  # type: ignore[no-untyped-def]
    from slaprobe.inventory import Inventory

    tags = Inventory(tuple(terms)).tags()
    return [tags[t.id] for t in terms]


def _filled(s: Sample) -> frozenset[str]:
    return frozenset(f for f in SAMPLE_FIELDS if getattr(s, f) is not None)


def _shape(samples: list[Sample]) -> dict[tuple[str, str, int], set[frozenset[str]]]:
    """Filled columns per (kind, outcome, replies capped at 2): jitter needs two replies."""
    out: dict[tuple[str, str, int], set[frozenset[str]]] = defaultdict(set)
    for s in samples:
        out[s.kind.value, s.error.value, min(s.received, 2)].add(_filled(s))
    return dict(out)


def _slot_errors(samples: list[Sample], beats: list[Heartbeat], terms, exact: bool) -> list[str]:  # type: ignore[no-untyped-def]
    """Every sample must lie in a cycle that has a heartbeat, at its target's slot (references first,
    then the terminals in service in inventory order); the daemon may start a probe a little late."""
    ivl = int(INTERVAL_S * NS_PER_S)
    cycles = {(b.group, b.time_ns): b for b in beats}
    problems = []
    for s in samples:
        t0 = s.time_ns // ivl * ivl
        term = next((t for t in terms if t.id == s.terminal), None)
        groups = [term.group] if term else sorted({g for g, _ in (split_cycle(b.group) for b in beats)})
        found = False
        for group in groups:
            hb = cycles.get((f"{group}/{s.kind.value}", t0))
            if hb is None:
                continue
            due = [t.id for t in terms if t.group == group and (t.probes or (ProbeKind.ICMP,)).count(s.kind)]
            due = [tid for tid in due if tid != terms[-1].id]  # the terminal opening in 2099
            refs = [f"ref:{REFERENCE}"] if s.kind in (ProbeKind.ICMP, ProbeKind.ICMP_JITTER) else []
            order = refs + due
            assert hb.due == len(due), (hb, due)
            offs = spread_offsets(len(order), INTERVAL_S, 0.9, SLOT_S)
            slot = t0 + round(offs[order.index(s.terminal)] * NS_PER_S)
            late = s.time_ns - slot
            if abs(late) < 1000 or (not exact and 0 <= late < LATENESS_S * NS_PER_S):  # 1 µs: float seconds
                found = True
                break
        if not found:
            problems.append(f"{s.terminal} {s.kind.value} {s.error.value} at +{(s.time_ns - t0) / 1e9:.3f} s")
    return problems


def test_lab_month_journal_has_the_daemons_shape(tmp_path: Path, lab_factory) -> None:  # type: ignore[no-untyped-def]
    inventory = _inventory(tmp_path)
    terms = list(load_inventory(inventory).terminals)
    real = _read(_daemon_journal(tmp_path, lab_factory, inventory))
    synth = _read(_month_journal(tmp_path, inventory, tmp_path / "slaprobe.yaml"))
    assert _read(tmp_path / "bulk.sqlite") == synth  # lab month's bulk path writes the very same journal
    (d_samples, d_beats, d_series), (m_samples, m_beats, m_series) = real, synth

    # heartbeats: the same cycle keys, and fields that mean the same
    assert {b.group for b in d_beats} == {b.group for b in m_beats} == {
        "default/icmp", "default/stamp", "province/icmp",
    }  # fmt: skip
    for beats in (d_beats, m_beats):
        assert {b.vantage for b in beats} == {VANTAGE}
        assert {b.interval_s for b in beats} == {INTERVAL_S}
        assert all(b.time_ns % int(INTERVAL_S * NS_PER_S) == 0 for b in beats)
        assert all(b.probed + b.skipped == b.due for b in beats)
        assert {(b.group, b.reference_total, b.reference_ok) for b in beats} == {
            ("default/icmp", 1, 1), ("province/icmp", 1, 1), ("default/stamp", 0, 0),
        }  # fmt: skip
        assert {b.unstored for b in beats} == {0}
        assert {(b.group, b.due) for b in beats} == {
            ("default/icmp", 4),
            ("default/stamp", 1),
            ("province/icmp", 1),
        }
    assert any(b.skipped for b in d_beats) and any(b.skipped for b in m_beats)

    # series: the same terminals, kinds and tag columns (references untagged in both)
    assert d_series == m_series
    assert (f"ref:{REFERENCE}", "icmp", "", "", "", "") in d_series

    # samples: the same filled columns for each kind and outcome
    d_shape, m_shape = _shape(d_samples), _shape(m_samples)
    needed = [("icmp", "ok", 2), ("icmp", "timeout", 0), ("icmp", "partial", 2), ("icmp", "not_scheduled", 0)]
    for key in [*needed, ("stamp", "ok", 2)]:
        assert key in d_shape and key in m_shape, (key, sorted(d_shape), sorted(m_shape))
    for key in d_shape.keys() & m_shape.keys():
        assert d_shape[key] == m_shape[key], (
            key,
            [sorted(x) for x in d_shape[key]],
            [sorted(x) for x in m_shape[key]],
        )
    assert {s.error for s in m_samples} <= {s.error for s in d_samples} | {Outcome.PARTIAL}
    assert all(s.sent == 0 for s in m_samples + d_samples if s.error is Outcome.NOT_SCHEDULED)

    # timing: each sample in its cycle's interval, at its slot (skipped ones too)
    assert _slot_errors(m_samples, m_beats, terms, exact=True) == []
    assert _slot_errors(d_samples, d_beats, terms, exact=False) == []
    skipped = [s for s in d_samples if s.error is Outcome.NOT_SCHEDULED]
    assert skipped and _slot_errors(skipped, d_beats, terms, exact=True) == []  # dated at the slot itself
