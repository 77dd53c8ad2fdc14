"""One terminal's run state, fed verdict by verdict, gives the outages the month report's
``hysteresis`` gives over the whole sequence (random sequences, every n the presets use and more)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from slaprobe.live.runs import Change, TerminalRun, advance
from slaprobe.sla.availability import hysteresis


def _batch_outages(flags: list[bool], n: int) -> list[tuple[int, int]]:
    u = hysteresis(np.array(flags, dtype=bool), n).tolist()
    out, start = [], None
    for i, down in enumerate([*u, False]):
        if down and start is None:
            start = i
        elif not down and start is not None:
            out.append((start, i - 1))
            start = None
    return out


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_incremental_runs_equal_batch_hysteresis(n: int) -> None:
    rng = random.Random(n)
    for _ in range(300):
        p = rng.choice([0.2, 0.5, 0.8])
        flags = [rng.random() < p for _ in range(rng.randint(0, 60))]
        run = TerminalRun()
        got: list[tuple[int, int]] = []
        opened: int | None = None
        for i, high in enumerate(flags):
            s = advance(run, i, high, n)
            if s is not None and s.change is Change.ENTERED:
                opened = s.first
            elif s is not None:
                assert s.first == opened
                got.append((s.first, s.last))
                opened = None
            assert len(run.pending) < n  # what is kept stays bounded
        if run.down:
            assert run.since is not None and run.last_down is not None
            # still open: a trailing good run shorter than n is (provisionally) unavailable too
            got.append((run.since, run.pending[-1].interval if run.pending else run.last_down))
        assert got == _batch_outages(flags, n), flags


def test_counts_are_the_judged_unavailable_intervals() -> None:
    """XXXXX.X.... with n = 5: unavailable 0..6 (the lone good interval 5 is inside), 7 intervals."""
    run = TerminalRun()
    changes = [advance(run, i, c == "X", 5) for i, c in enumerate("XXXXX.X.....")]
    left = [c for c in changes if c is not None and c.change is Change.LEFT]
    assert [(c.first, c.last, c.count) for c in left] == [(0, 6, 7)]
