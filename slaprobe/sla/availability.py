"""Availability of one terminal: hysteresis (MEF 10.3, back-dated), exclusions, outages and evidence.

The judged sequence of a terminal is its in-service, non-maintenance intervals that some vantage judged
(``intervals.py``). The rule runs on that sequence only, so UNKNOWN and maintenance intervals neither
extend nor break a run: an outage spanning a blind spot of ours stays one outage, and the blind minutes
count for nobody. States change only at runs of at least n equal verdicts, and the change is back-dated
to the run's first interval; runs shorter than n keep the previous state. The state at the start of
the data window is *available*; the window reaches ``rule.lookaround_s`` before and after the period, so
the state at the month's first minute is what the previous month's end made it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from slaprobe.model import NS_PER_S
from slaprobe.sla.inputs import DISTRUST_REASONS
from slaprobe.sla.intervals import Prepared, TerminalVerdicts, terminal_verdicts
from slaprobe.sla.maintenance import MaintenanceWindow, maintenance_mask
from slaprobe.sla.types import IntervalEvidence, IntervalState, Outage, TerminalAvailability
from slaprobe.terminal import Terminal


def hysteresis(high: np.ndarray, n: int) -> np.ndarray:
    """Unavailable flags for a judged sequence of high-loss flags (start state: available)."""
    m = len(high)
    if m == 0:
        return np.zeros(0, dtype=bool)
    change = np.flatnonzero(high[1:] != high[:-1]) + 1
    starts = np.concatenate(([0], change))
    lens = np.diff(np.concatenate((starts, [m])))
    values = high[starts]
    decisive = np.where(lens >= n, np.arange(len(starts)), -1)
    last = np.maximum.accumulate(decisive)
    state = np.where(last >= 0, values[np.maximum(last, 0)], False)
    return np.repeat(state, lens)


def run_position(flags: np.ndarray) -> np.ndarray:
    """1-based position of each True inside its run of Trues (0 for False)."""
    m = len(flags)
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(m)
    last_false = np.maximum.accumulate(np.where(~flags, idx, -1))
    return np.where(flags, idx - last_false, 0)


def local_midnight_ns(day: dt.date, tz: ZoneInfo) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=tz).timestamp()) * NS_PER_S


def in_service_mask(
    terminal: Terminal, tz: ZoneInfo, start_ns: int, interval_ns: int, count: int
) -> np.ndarray:
    """Intervals that start on or after the opening day's local midnight and before the day after retiring."""
    first = -(-(local_midnight_ns(terminal.in_service_from, tz) - start_ns) // interval_ns)
    last = count
    if terminal.in_service_to is not None:
        end = local_midnight_ns(terminal.in_service_to + dt.timedelta(days=1), tz)
        last = -(-(end - start_ns) // interval_ns)
    mask = np.zeros(count, dtype=bool)
    mask[max(0, first) : max(0, min(count, last))] = True
    return mask


@dataclass(frozen=True, slots=True)
class TerminalResult:
    availability: TerminalAvailability
    states: np.ndarray | None  # int8 IntervalState over the period, when asked for


def _evidence(
    p: Prepared, ti: int, verdicts: TerminalVerdicts, first: int, last: int, skip: np.ndarray
) -> tuple[IntervalEvidence, ...]:
    """What each vantage saw of each interval of an outage (maintenance / out-of-service skipped)."""
    w = p.window
    group = p.terminals[ti].group
    out: list[IntervalEvidence] = []
    for view in verdicts.views:
        vi = p.vantages.index(view.vantage)
        problem = {int(i): k for k, i in enumerate(view.p_iv.tolist()) if first <= i <= last}
        for i in range(first, last + 1):
            if skip[i]:
                continue
            start = w.start_ns + i * w.interval_ns
            k = problem.get(i)
            if k is not None and (view.looked[i] or not view.p_measured[k]):
                note = "" if view.p_enough[k] else "too_few_probes" if view.p_measured[k] else "not_measured"
                out.append(
                    IntervalEvidence(start, view.vantage, int(view.p_sent[k]), int(view.p_recv[k]), note)
                )
            elif view.known[i]:
                out.append(IntervalEvidence(start, view.vantage, 0, 0, "no_loss_recorded"))
            elif p.mass[vi, i]:
                out.append(IntervalEvidence(start, view.vantage, 0, 0, "mass_event"))
            elif not p.member[ti, vi, i // w.per_hour]:
                out.append(IntervalEvidence(start, view.vantage, 0, 0, "not_probed"))
            else:
                blind = p.blind.get((vi, group))
                reason = DISTRUST_REASONS[int(blind[i])] if blind is not None and blind[i] else ""
                out.append(IntervalEvidence(start, view.vantage, 0, 0, reason or "no_heartbeat"))
    out.sort(key=lambda e: (e.start_ns, e.vantage))
    return tuple(out)


def evaluate_terminal(
    p: Prepared,
    ti: int,
    tz: ZoneInfo,
    period: tuple[int, int],
    maintenance: Sequence[MaintenanceWindow] = (),
    *,
    evidence: bool = True,
    keep_states: bool = False,
) -> TerminalResult:
    """Availability of terminal ``ti`` over window intervals ``period = (first, end)``."""
    w, rule = p.window, p.rule
    term = p.terminals[ti]
    ps, pe = period
    dt_s = rule.interval_s
    verdicts = terminal_verdicts(p, ti)
    service = in_service_mask(term, tz, w.start_ns, w.interval_ns, w.count)
    maint = maintenance_mask(maintenance, term, w.start_ns, w.interval_ns, w.count) & service
    judged = service & ~maint & verdicts.judged
    idx = np.flatnonzero(judged)
    high_seq = verdicts.high[idx]
    unavail_seq = hysteresis(high_seq, rule.consecutive)
    in_period = (idx >= ps) & (idx < pe)

    chli_seq = (run_position(high_seq) >= rule.chli_run) & ~unavail_seq

    service_p = service[ps:pe]
    maint_p = maint[ps:pe]
    judged_p = judged[ps:pe]
    unavailable_n = int((unavail_seq & in_period).sum())
    available_n = int(judged_p.sum()) - unavailable_n

    outages: list[Outage] = []
    if unavail_seq.any():
        change = np.flatnonzero(unavail_seq[1:] != unavail_seq[:-1]) + 1
        bounds = np.concatenate(([0], change, [len(unavail_seq)]))
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            if not unavail_seq[a]:
                continue
            inside = int(in_period[a:b].sum())
            if inside == 0:
                continue
            first, last = int(idx[a]), int(idx[b - 1])
            truncated = (a == 0 and bool(service[0])) or (b == len(idx) and bool(service[-1]))
            ev = _evidence(p, ti, verdicts, first, last, ~service | maint) if evidence else ()
            outages.append(
                Outage(
                    terminal=term.id,
                    start_ns=w.start_ns + first * w.interval_ns,
                    end_ns=w.start_ns + (last + 1) * w.interval_ns,
                    duration_s=(b - a) * dt_s,
                    carrier=term.carrier,
                    region=term.region,
                    evidence=ev,
                    period_s=inside * dt_s,
                    truncated=truncated,
                    ongoing=b == len(idx),
                )
            )

    states = None
    if keep_states:
        full = np.full(w.count, IntervalState.NOT_IN_SERVICE, dtype=np.int8)
        full[service] = IntervalState.UNKNOWN
        full[maint] = IntervalState.MAINTENANCE
        full[idx] = np.where(unavail_seq, IntervalState.UNAVAILABLE, IntervalState.AVAILABLE)
        states = full[ps:pe]

    result = TerminalAvailability(
        terminal=term.id,
        period_start_ns=w.start_ns + ps * w.interval_ns,
        period_end_ns=w.start_ns + pe * w.interval_ns,
        interval_s=dt_s,
        in_service_s=int(service_p.sum()) * dt_s,
        maintenance_s=int(maint_p.sum()) * dt_s,
        unknown_s=int((service_p & ~maint_p & ~judged_p).sum()) * dt_s,
        available_s=available_n * dt_s,
        unavailable_s=unavailable_n * dt_s,
        high_loss_intervals=int((high_seq & in_period).sum()),
        outages=tuple(outages),
        consecutive_high_loss=int((chli_seq & in_period).sum()),
    )
    return TerminalResult(result, states)
