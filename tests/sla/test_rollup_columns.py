"""sla/rollup_columns.py, the bulk rollup definition, against the per-sample ``kpi.RollupRow.add``:
rows in (key, time) order (its run-length grouping) and shuffled (its sort), few groups (bincount of
histogram cells) and many (their sort), errors as strings and as dictionary codes."""

from __future__ import annotations

import random

import numpy as np
import pytest

from slaprobe.model import NS_PER_S, Outcome, ProbeKind, Sample
from slaprobe.sla.kpi import HOUR_NS, SCALARS, RollupRow, unpack_hist
from slaprobe.sla.rollup_columns import RollupColumns, daily_hists, hourly_rollups
from slaprobe.sla.rollups import DAY_NS

T0 = 19_000 * DAY_NS  # a UTC midnight
ERRORS = [Outcome.OK, Outcome.OK, Outcome.TIMEOUT, Outcome.NOT_SCHEDULED, Outcome.MALFORMED]


def _samples(n: int, terminals: int, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        sent = rng.choice([0, 5, 10])
        rtt = rng.choice([None, rng.uniform(-1, 900), rng.uniform(0, 0.02)])
        out.append(
            Sample(
                T0 + rng.randrange(2 * DAY_NS // NS_PER_S) * NS_PER_S,  # two days
                f"T{rng.randrange(terminals)}", "v", ProbeKind.ICMP, sent, rng.randrange(12),
                rtt_avg_ms=rtt, jitter_ms=rng.choice([None, rng.uniform(0, 60)]),
                pdv_ms=rng.choice([None, rng.uniform(0, 80)]), mos=rng.choice([None, 4.25, 1.0]),
                error=rng.choice(ERRORS),
            )
        )  # fmt: skip
    return out


def _columns(samples: list[Sample], codes: bool) -> tuple[list, dict]:
    def f(c: str) -> np.ndarray:
        return np.array([np.nan if getattr(s, c) is None else getattr(s, c) for s in samples])

    names = [o.value for o in Outcome]
    error = (
        np.array([names.index(s.error.value) for s in samples])
        if codes
        else np.array([s.error.value for s in samples], dtype=object)
    )
    args = [
        np.array([int(s.terminal[1:]) for s in samples]), np.array([s.time_ns for s in samples]),
        np.array([s.sent for s in samples]), np.array([s.received for s in samples]), error,
        f("rtt_avg_ms"), f("jitter_ms"), f("pdv_ms"), f("mos"),
    ]  # fmt: skip
    return args, ({"error_names": names} if codes else {})


def _by_key(r: RollupColumns) -> dict[tuple[int, int], tuple]:
    return {
        (int(k), int(t)): (tuple(int(x) for x in s), unpack_hist(a), unpack_hist(b))
        for k, t, s, a, b in zip(r.key, r.time_ns, r.scalars, r.rtt_hist, r.jit_hist, strict=True)
    }


@pytest.mark.parametrize(("n", "terminals"), [(3_000, 4), (20_000, 9_000)])
@pytest.mark.parametrize("order", ["sorted", "shuffled"])
@pytest.mark.parametrize("codes", [False, True])
def test_hourly_and_daily_equal_the_per_sample_rollups(
    n: int, terminals: int, order: str, codes: bool
) -> None:
    samples = _samples(n, terminals, seed=n + terminals)
    if order == "sorted":
        samples.sort(key=lambda s: (int(s.terminal[1:]), s.time_ns))
    args, kw = _columns(samples, codes)
    hourly = hourly_rollups(*args, **kw)
    want: dict[tuple[int, int], RollupRow] = {}
    for s in samples:
        hour = s.time_ns - s.time_ns % HOUR_NS
        want.setdefault((int(s.terminal[1:]), hour), RollupRow(s.terminal, s.vantage, s.kind, hour)).add(s)
    assert list(zip(hourly.key.tolist(), hourly.time_ns.tolist(), strict=True)) == sorted(want)
    assert _by_key(hourly) == {
        k: (tuple(getattr(r, c) for c in SCALARS), r.rtt_hist, r.jit_hist) for k, r in want.items()
    }
    days: dict[tuple[int, int], RollupRow] = {}
    for (key, hour), r in want.items():
        day = hour - hour % DAY_NS
        days.setdefault((key, day), RollupRow(r.terminal, r.vantage, r.kind, day)).merge(r)
    assert _by_key(daily_hists(hourly)) == {
        k: (tuple(getattr(r, c) for c in SCALARS), r.rtt_hist, r.jit_hist) for k, r in days.items()
    }
