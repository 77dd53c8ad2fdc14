"""A synthetic month of samples and heartbeats, written straight into a store, with its ground truth.

For tests, demos and benchmarks of the SLA engine (``slaprobe lab month``). The month is built from
**events placed so their effect is known by construction** under the default rule (``mef10.3``:
Δt 60 s, C 0.75, n 5), which is what makes the ground truth exact without running the engine:

* outages (total loss, or 80 % loss) of at least n intervals -> unavailable, back-dated to their start;
* blackouts shorter than n intervals -> high-loss intervals, still available;
* degraded links: some intervals lose 1 packet of 5 (20 % <= C) -> quality only;
* skipped probes (``not_scheduled``, nothing sent) -> UNKNOWN intervals;
* a probe-host outage on the first vantage (no heartbeats, no samples) -> UNKNOWN for every terminal
  when that vantage is the only one, nothing otherwise;
* announced maintenance windows (per carrier, region or terminal), some with an outage inside -> only
  maintenance time;
* terminals opened mid-month -> counted from their opening day;
* one outage crossing the month's start and one crossing its end -> clipped in the month's figures.

Events of a terminal never overlap and keep n + 1 clean intervals between them (and away from the
probe-host outage, maintenance windows and service edges), so each adds its own figure. Every vantage
sees the same thing (multi-vantage disagreement is covered by the unit tests). Data covers the month plus
one day on each side (the engine's default lookaround).

The samples and heartbeats have the daemon's exact shape (``month_cycles``: one cycle per scheduling
group × probe kind, heartbeat key ``"<group>/<kind>"``, slot times from ``scheduler.spread_offsets``,
skipped probes dated in their slot, the scheduler's own sample and heartbeat builders); a test compares
a month's journal with a real daemon's. Writes go through the ``Store`` interface one hour at a time
(one transaction per hour in the journal, samples before the heartbeats that vouch for them). When the
store is InfluxDB, the hour's ``sla_hourly`` rollup points are written too (the journal keeps its own at
insert time).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import yaml

from slaprobe.lab.month_bulk import SampleArrays, cycle_arrays
from slaprobe.lab.month_cycles import (
    DEGRADED,
    DOWN,
    GOOD,
    HIGH,
    SKIPPED,
    CycleSettings,
    Segment,
    cycle_heartbeats,
    cycle_samples,
    layout_segments,
)
from slaprobe.lab.month_network import month_network  # noqa: F401  (re-exported: callers plan with it)
from slaprobe.model import NS_PER_S, Heartbeat, ProbeKind, Sample
from slaprobe.sla.maintenance import MaintenanceWindow, dump_windows
from slaprobe.terminal import Terminal

N_RULE = 5  # mef10.3 hysteresis the truth is built for
GUARD = N_RULE + 1
DAY_NS = 86_400 * NS_PER_S


class MonthProfileError(ValueError):
    pass


@dataclass(frozen=True)
class MonthProfile:
    """What the month contains (YAML keys are these field names; see config/lab-month.example.yaml)."""

    seed: int = 2022
    vantages: tuple[str, ...] = ("probe-1",)
    kind: ProbeKind = ProbeKind.ICMP
    interval_s: int = 60
    packets: int = 5
    rtt_ms: tuple[float, float] = (5.0, 60.0)
    jitter_ms: tuple[float, float] = (0.1, 4.0)
    outages_per_terminal: float = 0.3
    outage_minutes: tuple[int, int] = (5, 240)
    high_loss_share: float = 0.3  # share of outages with 80 % loss instead of total loss
    blackouts_per_terminal: float = 1.0
    blackout_minutes: tuple[int, int] = (1, 4)
    degraded_share: float = 0.05  # terminals with a degraded link
    degraded_probability: float = 0.02  # per interval, on such a link
    skipped_per_terminal: float = 0.5  # isolated not_scheduled intervals
    host_outage_minutes: int = 90  # probe-host outage of the first vantage (0 = none)
    host_outage_day: int = 12
    maintenance_windows: int = 3
    maintenance_minutes: int = 120
    outages_in_maintenance: int = 3
    opened_mid_month: float = 0.02
    boundary_outages: bool = True
    timezone: str = "Asia/Shanghai"


def load_month_profile(path: str | Path | None) -> MonthProfile:
    if path is None:
        return MonthProfile()
    p = Path(path)
    data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise MonthProfileError(f"{p}: expected a mapping")
    known = {f.name: f for f in dataclasses.fields(MonthProfile)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise MonthProfileError(f"{p}: unknown key {key!r}; known: {', '.join(sorted(known))}")
        default = getattr(MonthProfile(), key)
        try:
            if key == "kind":
                value = ProbeKind(value)
            elif isinstance(default, tuple):
                value = tuple(value) if key == "vantages" else tuple(type(default[0])(v) for v in value)
            elif isinstance(default, bool):
                value = bool(value)
            else:
                value = type(default)(value)
        except (TypeError, ValueError) as exc:
            raise MonthProfileError(f"{p}: {key}: {exc}") from None
        values[key] = value
    profile = MonthProfile(**values)
    if not profile.vantages:
        raise MonthProfileError(f"{p}: vantages: at least one")
    if 3600 % profile.interval_s:
        raise MonthProfileError(f"{p}: interval_s must divide 3600")
    return profile


@dataclass
class TerminalPlan:
    first: int  # first in-service interval of the window
    last: int  # exclusive
    phase_ms: int  # unused since samples follow the daemon's slots; still drawn so seeds keep their plans
    rtt_ms: float
    jitter_ms: float
    degraded: bool
    events: list[tuple[int, int, int]] = field(default_factory=list)  # (first, end, code)


@dataclass
class MonthPlan:
    terminals: list[Terminal]
    profile: MonthProfile
    month: str
    start_ns: int  # window start (month start - 1 day)
    count: int  # intervals in the window
    period: tuple[int, int]  # month as window interval indices
    plans: list[TerminalPlan]
    host_down: tuple[int, int] | None  # window intervals of the first vantage's outage
    maintenance: list[MaintenanceWindow]
    maintenance_ranges: list[tuple[int, int, Callable[[Terminal], bool]]]
    truth: dict[str, Any]
    layouts: dict[CycleSettings, list[Segment]] = field(default_factory=dict, repr=False, compare=False)
    cache: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @property
    def interval_ns(self) -> int:
        return self.profile.interval_s * NS_PER_S


def _midnight(day: dt.date, tz: ZoneInfo) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()) * NS_PER_S


def _free(busy: np.ndarray, a: int, b: int) -> bool:
    return a - GUARD >= 0 and b + GUARD <= len(busy) and not busy[a - GUARD : b + GUARD].any()


def plan_month(terminals: Sequence[Terminal], month: str, profile: MonthProfile) -> MonthPlan:
    """Place every event and compute the ground truth (pure; deterministic for a seed)."""
    rng = random.Random(profile.seed)
    tz = ZoneInfo(profile.timezone)
    year, mon = (int(x) for x in month.split("-"))
    first_day = dt.date(year, mon, 1)
    next_first = dt.date(year + (mon == 12), mon % 12 + 1, 1)
    m_start, m_end = _midnight(first_day, tz), _midnight(next_first, tz)
    ivl = profile.interval_s * NS_PER_S
    start = m_start - DAY_NS
    count = (m_end + DAY_NS - start) // ivl
    ps, pe = (m_start - start) // ivl, (m_end - start) // ivl

    def minutes(m: int) -> int:
        return max(1, m * 60 // profile.interval_s)

    def at(day: int, hour: int) -> int:  # window interval of local day/hour of the month
        return ps + ((day - 1) * 86_400 + hour * 3600) // profile.interval_s

    terms = sorted(terminals, key=lambda t: t.id)
    # terminals opened mid-month
    for i, t in enumerate(terms):
        if rng.random() < profile.opened_mid_month:
            terms[i] = dataclasses.replace(
                t, in_service_from=first_day + dt.timedelta(days=rng.randrange(5, 25))
            )

    host_down = None
    if profile.host_outage_minutes:
        h0 = at(profile.host_outage_day, 3)
        host_down = (h0, h0 + minutes(profile.host_outage_minutes))

    # maintenance windows: by carrier, region, then terminal; days 3, 20, 26 ... at 02:00 local
    carriers = sorted({t.carrier for t in terms})
    regions = sorted({t.region for t in terms})
    windows: list[MaintenanceWindow] = []
    ranges: list[tuple[int, int, Callable[[Terminal], bool]]] = []
    for k in range(profile.maintenance_windows):
        day = (3, 20, 26, 8, 16, 23)[k % 6]
        a = at(day, 2 + k // 6)
        b = a + minutes(profile.maintenance_minutes)
        s_ns, e_ns = start + a * ivl, start + b * ivl
        if k % 3 == 0:
            c = carriers[k // 3 % len(carriers)]
            windows.append(MaintenanceWindow(s_ns, e_ns, carriers=frozenset({c}), reason=f"carrier {c} work"))
            ranges.append((a, b, lambda t, c=c: t.carrier == c))
        elif k % 3 == 1:
            r = regions[k % len(regions)]
            windows.append(MaintenanceWindow(s_ns, e_ns, regions=frozenset({r}), reason=f"region {r} work"))
            ranges.append((a, b, lambda t, r=r: t.region == r))
        else:
            tid = terms[k % len(terms)].id
            windows.append(MaintenanceWindow(s_ns, e_ns, terminals=frozenset({tid}), reason="site work"))
            ranges.append((a, b, lambda t, tid=tid: t.id == tid))

    plans: list[TerminalPlan] = []
    truth_terms: dict[str, Any] = {}
    single_vantage = len(profile.vantages) == 1
    in_maint_left = profile.outages_in_maintenance
    for ti, t in enumerate(terms):
        first = max(0, -(-(_midnight(t.in_service_from, tz) - start) // ivl))
        last = count
        if t.in_service_to is not None:
            last = min(count, -(-(_midnight(t.in_service_to + dt.timedelta(days=1), tz) - start) // ivl))
        plan = TerminalPlan(
            first,
            max(first, last),
            phase_ms=rng.randrange(0, min(50_000, profile.interval_s * 800)),
            rtt_ms=rng.uniform(*profile.rtt_ms),
            jitter_ms=rng.uniform(*profile.jitter_ms),
            degraded=rng.random() < profile.degraded_share,
        )
        plans.append(plan)
        busy = np.zeros(count, dtype=bool)
        busy[: plan.first] = True
        busy[plan.last :] = True
        maint = np.zeros(count, dtype=bool)
        maint_inside: list[tuple[int, int]] = []
        for a, b, applies in ranges:
            if applies(t):
                maint[a:b] = True
                busy[a:b] = True
                maint_inside.append((a, b))
        unknown_host = host_down is not None and single_vantage
        if host_down is not None:
            busy[host_down[0] : host_down[1]] = True
        outages: list[tuple[int, int]] = []
        blackouts = 0
        skipped: list[int] = []
        # boundary outages
        if profile.boundary_outages and ti in (0, 1) and len(terms) > 1:
            a, b = (ps - minutes(30), ps + minutes(45)) if ti == 0 else (pe - minutes(40), pe + minutes(20))
            if _free(busy, a, b):
                plan.events.append((a, b, DOWN))
                busy[a:b] = True
                outages.append((a, b))
        # an outage inside a maintenance window (announced work)
        if in_maint_left and maint_inside:
            a, b = maint_inside[0]
            if b - a > 2 * GUARD and plan.first <= a and b <= plan.last:
                plan.events.append((a + 2, b - 2, DOWN))
                in_maint_left -= 1

        def place(
            length: int, code: int, plan: TerminalPlan = plan, busy: np.ndarray = busy
        ) -> tuple[int, int] | None:
            for _ in range(60):
                a = rng.randrange(ps, pe - length)
                if _free(busy, a, a + length):
                    plan.events.append((a, a + length, code))
                    busy[a : a + length] = True
                    return a, a + length
            return None

        for _ in range(_poisson(rng, profile.outages_per_terminal)):
            length = minutes(rng.randint(*profile.outage_minutes))
            if length < N_RULE:
                continue
            got = place(length, HIGH if rng.random() < profile.high_loss_share else DOWN)
            if got:
                outages.append(got)
        for _ in range(_poisson(rng, profile.blackouts_per_terminal)):
            length = min(N_RULE - 1, minutes(rng.randint(*profile.blackout_minutes)))
            if place(length, DOWN):
                blackouts += length
        for _ in range(_poisson(rng, profile.skipped_per_terminal)):
            got = place(1, SKIPPED)
            if got:
                skipped.append(got[0])

        # ground truth, by construction
        svc = np.zeros(count, dtype=bool)
        svc[plan.first : plan.last] = True
        svc_p = svc[ps:pe]
        maint_p = maint[ps:pe] & svc_p
        unknown = len(skipped)
        if unknown_host and host_down is not None:
            unknown += int((svc & ~maint)[host_down[0] : host_down[1]].sum())
        unavailable = sum(max(0, min(b, pe) - max(a, ps)) for a, b in outages)
        in_service_n = int(svc_p.sum())
        if in_service_n == 0:
            continue
        dt_s = profile.interval_s
        truth_terms[t.id] = {
            "in_service_s": in_service_n * dt_s,
            "maintenance_s": int(maint_p.sum()) * dt_s,
            "unknown_s": unknown * dt_s,
            "unavailable_s": unavailable * dt_s,
            "available_s": (in_service_n - int(maint_p.sum()) - unknown - unavailable) * dt_s,
            "high_loss_intervals": unavailable + blackouts,
            "outages": [
                [start + a * ivl, start + b * ivl, (min(b, pe) - max(a, ps)) * dt_s]
                for a, b in sorted(outages)
            ],
        }
    truth = {
        "month": month,
        "timezone": profile.timezone,
        "rule": "mef10.3",
        "interval_s": profile.interval_s,
        "vantages": list(profile.vantages),
        "host_outage": None
        if host_down is None
        else [start + host_down[0] * ivl, start + host_down[1] * ivl],
        "terminals": truth_terms,
    }
    return MonthPlan(terms, profile, month, start, count, (ps, pe), plans, host_down, windows, ranges, truth)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _plan_arrays(plan: MonthPlan) -> dict[str, np.ndarray]:
    """Per-terminal plan figures and every event as arrays, built once (the hour loop reads them)."""
    if not plan.cache:
        ps = plan.plans
        ev = [(ti, ea, eb, code) for ti, p in enumerate(ps) for ea, eb, code in p.events]
        table = np.array(ev, dtype=np.int64).reshape(-1, 4)
        plan.cache.update(
            firsts=np.array([p.first for p in ps], dtype=np.int64),
            lasts=np.array([p.last for p in ps], dtype=np.int64),
            degraded=np.array([p.degraded for p in ps], dtype=bool),
            rtt=np.array([p.rtt_ms for p in ps]),
            jitter=np.array([p.jitter_ms for p in ps]),
            ev_t=table[:, 0],
            ev_a=table[:, 1],
            ev_b=table[:, 2],
            ev_code=table[:, 3],
        )
    return plan.cache


def _hour_codes(plan: MonthPlan, a: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """int8 codes [T, b - a] for window intervals [a, b): -1 = not in service (no sample)."""
    arr = _plan_arrays(plan)
    n_t = len(plan.plans)
    idx = np.arange(a, b)
    firsts, lasts, degraded = arr["firsts"], arr["lasts"], arr["degraded"]
    codes = np.zeros((n_t, b - a), dtype=np.int8)
    codes[(idx[None, :] < firsts[:, None]) | (idx[None, :] >= lasts[:, None])] = -1
    if degraded.any():
        roll = rng.random((n_t, b - a)) < plan.profile.degraded_probability
        codes[roll & degraded[:, None] & (codes == GOOD)] = DEGRADED
    hit = np.nonzero((arr["ev_a"] < b) & (arr["ev_b"] > a))[0]  # in plan order: later events win
    for ti, ea, eb, code in zip(
        arr["ev_t"][hit].tolist(), arr["ev_a"][hit].tolist(), arr["ev_b"][hit].tolist(),
        arr["ev_code"][hit].tolist(), strict=True,
    ):  # fmt: skip
        codes[ti, max(ea, a) - a : min(eb, b) - a] = code
    return codes


def _vantage_codes(plan: MonthPlan, a: int, b: int, vantage: str, rng: np.random.Generator) -> np.ndarray:
    """The plan codes as one vantage sees them: nothing at all while its probe host is down."""
    codes = _hour_codes(plan, a, b, rng)
    if vantage == plan.profile.vantages[0] and plan.host_down is not None:
        h0, h1 = plan.host_down
        codes[:, max(h0, a) - a : max(min(h1, b) - a, 0)] = -1
    return codes


def cycle_layout(plan: MonthPlan, settings: CycleSettings | None = None) -> list[Segment]:
    """The daemon's cycles over the plan's window (cached per settings on the plan)."""
    settings = settings or CycleSettings(interval_s=float(plan.profile.interval_s))
    if settings not in plan.layouts:
        plan.layouts[settings] = layout_segments(
            plan.terminals,
            [p.first for p in plan.plans],
            [p.last for p in plan.plans],
            plan.count,
            (plan.profile.kind,),
            settings,
        )
    return plan.layouts[settings]


def _host_down(plan: MonthPlan, vantage: str) -> tuple[int, int] | None:
    return plan.host_down if vantage == plan.profile.vantages[0] else None


def samples_for(
    plan: MonthPlan,
    a: int,
    b: int,
    vantage: str,
    rng: np.random.Generator,
    settings: CycleSettings | None = None,
) -> list[Sample]:
    """Every sample the daemon at ``vantage`` would write for window intervals [a, b), in its shape."""
    samples, _ = _cycles_for(plan, a, b, vantage, rng, settings)
    return samples


def heartbeats_for(
    plan: MonthPlan, a: int, b: int, vantage: str, settings: CycleSettings | None = None
) -> list[Heartbeat]:
    """The heartbeats of the daemon's cycles at ``vantage`` in window intervals [a, b).

    Worked out a day at a time (the skip counts need the plan codes: T × intervals bytes).
    """
    settings = settings or CycleSettings(interval_s=float(plan.profile.interval_s))
    segments = cycle_layout(plan, settings)
    step = max(1, 86_400 // plan.profile.interval_s)
    out: list[Heartbeat] = []
    for lo in range(a, b, step):
        hi = min(b, lo + step)
        codes = _vantage_codes(plan, lo, hi, vantage, np.random.default_rng(0))  # skips ignore the rng
        out += cycle_heartbeats(
            segments, codes, lo, plan.start_ns, plan.interval_ns, vantage, settings, _host_down(plan, vantage)
        )
    return out


def slot_offsets_ns(plan: MonthPlan, interval: int, settings: CycleSettings | None = None) -> np.ndarray:
    """Each terminal's slot offset (ns from the cycle start) in the daemon's cycle of window interval
    ``interval`` (its first kind's cycle; -1 when not in service), for benchmarks that synthesise
    samples in bulk without building Sample objects."""
    out = np.full(len(plan.terminals), -1, dtype=np.int64)
    for seg in cycle_layout(plan, settings):
        if seg.start <= interval < seg.end:
            for cyc in reversed(seg.cycles):  # the first kind's offsets win
                out[cyc.members] = cyc.offsets_ns
    return out


def _hour_inputs(
    plan: MonthPlan, a: int, b: int, vantage: str, rng: np.random.Generator, settings: CycleSettings | None
) -> tuple[CycleSettings, list[Segment], np.ndarray, np.ndarray, np.ndarray]:
    """(settings, segments, codes, rtts, jitters) of window intervals [a, b) at ``vantage``: the draws
    of one batch, in the order every writer (per sample or in bulk) makes them."""
    settings = settings or CycleSettings(interval_s=float(plan.profile.interval_s))
    segments = cycle_layout(plan, settings)
    codes = _vantage_codes(plan, a, b, vantage, rng)
    arr = _plan_arrays(plan)
    rtt = arr["rtt"][:, None] * (1 + 0.2 * rng.random(codes.shape))
    jit = arr["jitter"][:, None] * (0.5 + rng.random(codes.shape))
    return settings, segments, codes, rtt, jit


def _cycles_for(
    plan: MonthPlan,
    a: int,
    b: int,
    vantage: str,
    rng: np.random.Generator,
    settings: CycleSettings | None,
) -> tuple[list[Sample], list[Heartbeat]]:
    settings, segments, codes, rtt, jit = _hour_inputs(plan, a, b, vantage, rng, settings)
    samples = cycle_samples(
        plan.terminals, segments, codes, a, plan.start_ns, plan.interval_ns, vantage, settings,
        plan.profile.packets, rtt, jit, _host_down(plan, vantage),
    )  # fmt: skip
    beats = cycle_heartbeats(
        segments, codes, a, plan.start_ns, plan.interval_ns, vantage, settings, _host_down(plan, vantage)
    )
    return samples, beats


def hour_arrays(
    plan: MonthPlan, a: int, b: int, vantage: str, rng: np.random.Generator, settings: CycleSettings | None
) -> tuple[SampleArrays, list[Heartbeat]]:
    """:func:`_cycles_for` as columns (``month_bulk``): the same samples, values and order."""
    settings, segments, codes, rtt, jit = _hour_inputs(plan, a, b, vantage, rng, settings)
    arrays = cycle_arrays(
        plan.terminals, segments, codes, a, plan.start_ns, plan.interval_ns, vantage, settings,
        plan.profile.packets, rtt, jit, _host_down(plan, vantage),
    )  # fmt: skip
    beats = cycle_heartbeats(
        segments, codes, a, plan.start_ns, plan.interval_ns, vantage, settings, _host_down(plan, vantage)
    )
    return arrays, beats


def write_month(
    plan: MonthPlan,
    store: Any,
    rollup_writer: Callable[[list[Sample]], None] | None = None,
    progress: Callable[[int, int], None] | None = None,
    settings: CycleSettings | None = None,
) -> int:
    """Write the plan's samples and heartbeats through the store's writer; returns the sample count.

    One batch per hour and vantage: the hour's samples, then its cycles' heartbeats (as the daemon
    writes a cycle's heartbeat after its samples, so a heartbeat in the store proves its samples are).
    """
    per_hour = 3600 // plan.profile.interval_s
    rng = np.random.default_rng(plan.profile.seed)
    total = 0
    hours = plan.count // per_hour
    for h in range(hours):
        a, b = h * per_hour, (h + 1) * per_hour
        for vantage in plan.profile.vantages:
            batch, beats = _cycles_for(
                plan, a, b, vantage, np.random.default_rng(rng.integers(1 << 62)), settings
            )
            store.write_samples(batch)
            if rollup_writer is not None:
                rollup_writer(batch)
            store.write_heartbeats(beats)
            total += len(batch)
        if progress is not None:
            progress(h + 1, hours)
    return total


def write_side_files(plan: MonthPlan, out_dir: str | Path) -> dict[str, Path]:
    """terminals.csv (the month's inventory), maintenance.yaml and truth.json in ``out_dir``."""
    from slaprobe.inventory import write_csv

    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    paths = {
        "inventory": d / "terminals.csv",
        "maintenance": d / "maintenance.yaml",
        "truth": d / "truth.json",
    }
    write_csv(plan.terminals, paths["inventory"])
    paths["maintenance"].write_text(dump_windows(plan.maintenance, ZoneInfo(plan.profile.timezone)), "utf-8")
    paths["truth"].write_text(json.dumps(plan.truth, indent=1, sort_keys=True) + "\n", "utf-8")
    return paths
