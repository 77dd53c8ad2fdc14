"""Terminal -> region / carrier / level / tier / province aggregates, and the quality KPIs.

Aggregates are **interval-weighted**: a group's availability is Σ available seconds / Σ measured
seconds of its terminals, never a mean of percentages, so a terminal that was in service three days
weighs three days. Per group we also give the worst terminal, how many are below their tier's target,
total downtime, outage count, MTTR (unavailable seconds per outage) and MTBF (available seconds per
outage), both counted inside the period; and the quality KPIs of ``kpi.py`` over the group's pooled
rollups (percentiles from the merged histograms, not averages of percentiles).

**Measured share** (how much of the time that counts was judged): judged seconds (available +
unavailable) / (in-service seconds − maintenance seconds). Maintenance is outside the denominator
because it is announced and excluded by contract: it is nobody's blind spot; UNKNOWN time is ours. A
group's share is the same ratio of its terminals' summed seconds. A target can only be *met* when the
share reaches ``min_measured_share``: below it a terminal is "insufficient data" — neither met nor
below target — and groups count such terminals separately (``extra["insufficient_data"]``), so a month
nobody measured never reads as "0 below target".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import numpy as np

from slaprobe.sla.inputs import RollupSummary
from slaprobe.sla.kpi import HIST_DTYPE, N_BUCKETS, SCALARS, QualityAccumulator
from slaprobe.sla.types import GroupAvailability, TerminalAvailability
from slaprobe.terminal import Terminal

DIMENSIONS: tuple[str, ...] = ("province", "carrier", "region", "level", "tier")
PROVINCE_KEY = "province"
# A month judged on less than 90 % of its time can hide ~3 days of outage: a 99.9 % target allows 43
# minutes. Below this share no target is declared met (config sla.min_measured_share).
DEFAULT_MIN_MEASURED_SHARE = 0.9


def counted_s(in_service_s: int, maintenance_s: int) -> int:
    """The measured share's denominator: in service minus announced maintenance."""
    return max(0, in_service_s - maintenance_s)


def sufficient(judged_s: int, counted: int, min_share: float) -> bool:
    """Exact test judged / counted >= min_share (a share of exactly the minimum is enough).

    Nothing to count (no time in service outside maintenance) is not a lack of data; nothing judged of
    something that counts always is, whatever the minimum.
    """
    if counted <= 0:
        return True
    if judged_s <= 0:
        return False
    share = Fraction(str(min_share))
    return judged_s * share.denominator >= share.numerator * counted


def target_status(
    available_s: int, judged_s: int, counted: int, target_pct: float | None, min_share: float
) -> str:
    """``met`` / ``below`` / ``insufficient_data`` / ``no_target`` for one terminal's period."""
    if target_pct is None:
        return "no_target"
    if judged_s <= 0 or not sufficient(judged_s, counted, min_share):
        return "insufficient_data"
    return "below" if below(available_s, judged_s, target_pct) else "met"


def availability_pct(available_s: int, measured_s: int) -> Decimal | None:
    """Percent, exact, rounded half-even to 4 decimals (the figure every report prints)."""
    if measured_s == 0:
        return None
    value = Decimal(100 * available_s) / Decimal(measured_s)
    return value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN)


def below(available_s: int, measured_s: int, target_pct: float) -> bool:
    """Exact test availability < target (no float rounding near the target)."""
    target = Fraction(str(target_pct))
    return 100 * available_s * target.denominator < target.numerator * measured_s


@dataclass(slots=True)
class QualityTable:
    """Per-terminal month totals of the rollups, dense so groups are array sums."""

    scalars: dict[str, np.ndarray]  # name -> int64[T]
    rtt: np.ndarray  # int64[T, N_BUCKETS]
    jit: np.ndarray

    def accumulator(self, rows: np.ndarray | Sequence[int]) -> QualityAccumulator:
        rows = np.asarray(rows, dtype=np.int64)
        acc = QualityAccumulator()
        for name in ("measured", "sent", "received", "mos_n", "mos_milli", "y0_n", "y0_ok"):
            setattr(acc, name, int(self.scalars[name][rows].sum()))
        acc.rtt = self.rtt[rows].sum(axis=0)
        acc.jit = self.jit[rows].sum(axis=0)
        return acc


def quality_table(terminals: Sequence[Terminal], rollups: RollupSummary) -> QualityTable:
    """The period's KPI sums of ``terminals`` (in that order) from the reduced rollups."""
    index = {name: i for i, name in enumerate(rollups.terminals)}
    rows = np.array([index.get(t.id, -1) for t in terminals], dtype=np.int64)
    have = rows >= 0
    n_t = len(terminals)
    sc = np.zeros((n_t, len(SCALARS)), dtype=np.int64)
    rtt = np.zeros((n_t, N_BUCKETS), dtype=np.int64)
    jit = np.zeros((n_t, N_BUCKETS), dtype=np.int64)
    if len(rollups.scalars) and have.any():
        sc[have] = rollups.scalars[rows[have]]
        rtt[have] = rollups.rtt[rows[have]]
        jit[have] = rollups.jit[rows[have]]
    return QualityTable({name: sc[:, k] for k, name in enumerate(SCALARS)}, rtt, jit)


def _key(t: Terminal, dimension: str) -> str:
    if dimension == "province":
        return PROVINCE_KEY
    value = getattr(t, dimension)
    return str(getattr(value, "value", value))


def group_availability(
    dimension: str,
    key: str,
    members: Sequence[int],
    terminals: Sequence[Terminal],
    results: Sequence[TerminalAvailability],
    quality: QualityTable,
    target_of: Callable[[Terminal], float | None],
    min_share: float = DEFAULT_MIN_MEASURED_SHARE,
) -> GroupAvailability:
    avail = unavail = unknown = maint = in_service = outages = hli = chli = below_n = short_n = 0
    worst: tuple[Fraction, str] | None = None
    for i in members:
        r = results[i]
        avail += r.available_s
        unavail += r.unavailable_s
        unknown += r.unknown_s
        maint += r.maintenance_s
        in_service += r.in_service_s
        outages += len(r.outages)
        hli += r.high_loss_intervals
        chli += r.consecutive_high_loss
        if r.in_service_s > 0 and not sufficient(
            r.measured_s, counted_s(r.in_service_s, r.maintenance_s), min_share
        ):
            short_n += 1
        if r.measured_s:
            frac = Fraction(r.available_s, r.measured_s)
            if worst is None or (frac, r.terminal) < worst:
                worst = (frac, r.terminal)
            status = target_status(
                r.available_s,
                r.measured_s,
                counted_s(r.in_service_s, r.maintenance_s),
                target_of(terminals[i]),
                min_share,
            )
            below_n += status == "below"
    extra: dict[str, float | None] = {
        "in_service_s": float(in_service),
        "insufficient_data": float(short_n),
        "downtime_s": float(unavail),
        "mttr_s": round(unavail / outages, 1) if outages else None,
        "mtbf_s": round(avail / outages, 1) if outages else None,
        "high_loss_intervals": float(hli),
        "consecutive_high_loss": float(chli),
    }
    extra.update(quality.accumulator(members).figures())
    worst_pct = None
    if worst is not None:
        worst_result = next(results[i] for i in members if results[i].terminal == worst[1])
        pct = availability_pct(worst_result.available_s, worst_result.measured_s)
        worst_pct = None if pct is None else float(pct)
    return GroupAvailability(
        dimension=dimension,
        key=key,
        terminals=sum(1 for i in members if results[i].in_service_s > 0),
        available_s=avail,
        unavailable_s=unavail,
        unknown_s=unknown,
        maintenance_s=maint,
        outages=outages,
        below_target=below_n,
        worst_terminal=None if worst is None else worst[1],
        worst_availability=worst_pct,
        extra=extra,
    )


def aggregate(
    terminals: Sequence[Terminal],
    results: Sequence[TerminalAvailability],
    quality: QualityTable,
    targets: Mapping[str, float],
    default_target: float | None = None,
    dimensions: Sequence[str] = DIMENSIONS,
    min_share: float = DEFAULT_MIN_MEASURED_SHARE,
) -> tuple[GroupAvailability, ...]:
    """Every group of every dimension, in dimension order then key order (deterministic).

    ``below_target`` counts terminals whose measured share reaches ``min_share`` and whose availability
    is below their target; terminals below the share are in ``extra["insufficient_data"]``.
    """

    def target_of(t: Terminal) -> float | None:
        return targets.get(t.tier, default_target)

    out: list[GroupAvailability] = []
    for dimension in dimensions:
        members: dict[str, list[int]] = {PROVINCE_KEY: []} if dimension == "province" else {}
        for i, t in enumerate(terminals):
            members.setdefault(_key(t, dimension), []).append(i)
        for key in sorted(members):
            out.append(
                group_availability(
                    dimension, key, members[key], terminals, results, quality, target_of, min_share
                )
            )
    return tuple(out)


__all__ = [
    "DEFAULT_MIN_MEASURED_SHARE",
    "DIMENSIONS",
    "HIST_DTYPE",
    "QualityTable",
    "aggregate",
    "availability_pct",
    "below",
    "counted_s",
    "group_availability",
    "quality_table",
    "sufficient",
    "target_status",
]
