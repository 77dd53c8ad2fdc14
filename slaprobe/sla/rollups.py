"""Reducing a window's hourly rollups to what the engine needs, while they stream in from a store.

A month of 20,000 terminals is 16 M hourly rows, so nothing keeps them: rows are folded, chunk by
chunk with numpy, into a :class:`RollupSummary`:

* **presence** ``counts[t, v, h]``: for every hour ``h`` of the window in which vantage ``v`` probed
  terminal ``t``, the largest hourly sample count of that (terminal, vantage, kind) in the window,
  summed over kinds (which vantage probed whom when; and whether intervals can hold several samples,
  decided per series so both stores can answer it from aggregates alike);
* **scalars**: per terminal, the KPI counters summed over the *period*;
* **histograms**: per terminal, the RTT and jitter histograms summed over the period.

Histograms are additive, so a store may hand them per UTC day for the days wholly inside the period
and per hour only at its edges (:func:`hist_ranges`): a month in UTC+8 reads 30 daily rows and 24
hourly ones per series instead of 744 hourly ones, and the sums are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from slaprobe.model import NS_PER_S, ProbeKind
from slaprobe.sla.kpi import HIST_DTYPE, HOUR_NS, N_BUCKETS, SCALARS

DAY_NS = 86_400 * NS_PER_S
_KINDS: tuple[ProbeKind, ...] = tuple(ProbeKind)  # the ``k`` codes of RollupRows


def hist_ranges(start_ns: int, end_ns: int) -> tuple[tuple[int, int] | None, list[tuple[int, int]]]:
    """Split a period into (whole UTC days, or None) and the hour ranges left at its edges."""
    d0 = -(-start_ns // DAY_NS) * DAY_NS
    d1 = end_ns // DAY_NS * DAY_NS
    if d1 <= d0:
        return None, [(start_ns, end_ns)]
    return (d0, d1), [(a, b) for a, b in ((start_ns, d0), (d1, end_ns)) if b > a]


def whole_days(
    day_ns: np.ndarray, count: np.ndarray, start_ns: int, end_ns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Presence from daily counts of hourly points: ``(whole, row, hour_ns)``.

    ``whole[i]``: day ``day_ns[i]`` (a UTC day start) has a point for every hour it has inside
    ``[start_ns, end_ns)``, so its hours need not be read one by one; ``row``/``hour_ns`` list those
    hours (``row`` indexes the days). A store counts per day (one aggregate row instead of 24) and reads
    only the other days hour by hour; with hourly points at whole hours the hours are the same.
    """
    day_ns, count = np.asarray(day_ns, np.int64), np.asarray(count, np.int64)
    first = -(-start_ns // HOUR_NS) * HOUR_NS
    a = np.maximum(day_ns, first)
    expected = np.maximum(0, -(-(np.minimum(day_ns + DAY_NS, end_ns) - a) // HOUR_NS))
    whole = count == expected
    n = np.where(whole, expected, 0)
    row = np.repeat(np.arange(len(day_ns)), n)
    hour_ns = a[row] + (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)) * HOUR_NS
    return whole, row, hour_ns


@dataclass(frozen=True, slots=True)
class RollupSummary:
    terminals: tuple[str, ...]  # the terminals asked for, in that order
    vantages: tuple[str, ...]
    start_ns: int  # first hour of ``counts``
    counts: np.ndarray  # int32 [T, V, H]
    scalars: np.ndarray  # int64 [T, len(SCALARS)]
    rtt: np.ndarray  # int64 [T, N_BUCKETS]
    jit: np.ndarray  # int64 [T, N_BUCKETS]
    rows: int = 0  # presence rows seen (in the window, of the requested kinds and terminals)

    def __len__(self) -> int:
        return self.rows


class RollupReducer:
    """Folds rollup rows into a :class:`RollupSummary`; rows of other terminals or kinds are ignored."""

    def __init__(
        self,
        start_ns: int,
        end_ns: int,
        kinds: Sequence[ProbeKind],
        terminals: Sequence[str],
        period: tuple[int, int],
    ) -> None:
        """The same arguments as ``SlaSource.rollups``."""
        self.terminals = tuple(terminals)
        self._t = {name: i for i, name in enumerate(self.terminals)}
        self.kinds = frozenset(ProbeKind(k).value for k in kinds)
        self.start_ns = start_ns - start_ns % HOUR_NS
        self.hours = max(0, -(-(end_ns - self.start_ns) // HOUR_NS))
        self.period = period
        self._v: dict[str, int] = {}
        n_t = len(self.terminals)
        self.counts = np.zeros((n_t, 0, self.hours), dtype=np.int32)
        self.scalars = np.zeros((n_t, len(SCALARS)), dtype=np.int64)
        self.rtt = np.zeros((n_t, N_BUCKETS), dtype=np.int64)
        self.jit = np.zeros((n_t, N_BUCKETS), dtype=np.int64)
        self.rows = 0
        # folded parts (:meth:`add_rows`): which (terminal, vantage, kind) series had a point in each hour,
        # and each series' largest hourly count; turned into ``counts`` by :meth:`build`, once every part is
        # in. Dense, so a month costs T × V × kinds × H bits of bool (47 MB at 20,000 terminals), not the
        # 32 bytes per hourly row a list of rows costs (1.4 GB for that month, and a copy per concatenation)
        self._present = np.zeros((n_t, 0, len(_KINDS), self.hours), dtype=bool)
        self._most = np.zeros((n_t, 0, len(_KINDS)), dtype=np.int64)

    # ------------------------------------------------------------------ codes
    def terminal(self, name: str) -> int:
        """Row of a terminal in the summary, -1 if it was not asked for."""
        return self._t.get(name, -1)

    def vantage(self, name: str) -> int:
        code = self._v.get(name)
        if code is None:
            code = self._v[name] = len(self._v)
            n_t = self.counts.shape[0]
            self.counts = np.concatenate([self.counts, np.zeros((n_t, 1, self.hours), np.int32)], axis=1)
            self._present = np.concatenate(
                [self._present, np.zeros((n_t, 1, len(_KINDS), self.hours), bool)], axis=1
            )
            self._most = np.concatenate([self._most, np.zeros((n_t, 1, len(_KINDS)), np.int64)], axis=1)
        return code

    def wants(self, kind: str) -> bool:
        return kind in self.kinds

    # ------------------------------------------------------------------ folding (codes from above)
    def add_presence(self, t: np.ndarray, v: np.ndarray, hour_ns: np.ndarray, samples: np.ndarray) -> None:
        t, v = np.asarray(t, np.int64), np.asarray(v, np.int64)
        h = (np.asarray(hour_ns, np.int64) - self.start_ns) // HOUR_NS
        ok = (t >= 0) & (v >= 0) & (h >= 0) & (h < self.hours)
        self.rows += int(ok.sum())
        np.add.at(self.counts, (t[ok], v[ok], h[ok]), np.asarray(samples, np.int64)[ok].astype(np.int32))

    def add_scalars(self, t: np.ndarray, sums: np.ndarray) -> None:
        """Period sums (rows in ``SCALARS`` order) of terminals ``t``."""
        t = np.asarray(t, np.int64)
        ok = t >= 0
        np.add.at(self.scalars, t[ok], np.asarray(sums, np.int64).reshape(len(t), len(SCALARS))[ok])

    def add_hists(self, t: np.ndarray, rtt: Sequence[bytes], jit: Sequence[bytes]) -> None:
        """Packed period histograms of terminals ``t`` (any split of the period, they add up)."""
        for blobs, which in ((rtt, "rtt"), (jit, "jit")):
            sizes = np.fromiter((len(b or b"") for b in blobs), dtype=np.int64, count=len(blobs))
            self.add_hist_pairs(t, which, sizes, np.frombuffer(b"".join(b or b"" for b in blobs), HIST_DTYPE))

    def add_hist_pairs(self, t: np.ndarray, which: str, sizes: np.ndarray, pairs: np.ndarray) -> None:
        """Packed histograms already concatenated: ``sizes`` bytes per row of ``t``, ``pairs`` all of them
        (``HIST_DTYPE``); ``which`` is ``"rtt"`` or ``"jit"``. For stores that hold them as Arrow binary."""
        dense = self.rtt if which == "rtt" else self.jit
        owner = np.repeat(np.asarray(t, np.int64), np.asarray(sizes, np.int64) // HIST_DTYPE.itemsize)
        ok = owner >= 0
        np.add.at(
            dense, (owner[ok], pairs["bucket"][ok].astype(np.int64)), pairs["count"][ok].astype(np.int64)
        )

    def add_rows(self, rows: RollupRows) -> None:
        """Fold one store part's rows (any split of the window; call once per part, in any order).

        Presence is kept per series and hour until :meth:`build`, because an hour counts at its series'
        largest hourly count over *all* the parts, as ``sla_journal.JournalSlaSource.rollups`` counts it
        over the journal's rows."""
        ok = rows.t >= 0
        t, v, k = rows.t[ok], rows.v[ok], rows.k[ok]
        h = (rows.hour_ns[ok] - self.start_ns) // HOUR_NS
        inside = (v >= 0) & (h >= 0) & (h < self.hours)
        self.rows += int(inside.sum())
        self._present[t[inside], v[inside], k[inside], h[inside]] = True
        m = rows.mt >= 0
        np.maximum.at(self._most, (rows.mt[m], rows.mv[m], rows.mk[m]), rows.mmax[m])
        self.add_scalars(rows.st, rows.sums)

    def build(self) -> RollupSummary:
        for k in range(len(_KINDS)):  # every present hour at its series' largest count, summed over kinds
            self.counts += self._present[:, :, k, :] * self._most[:, :, k, None].astype(np.int32)
        self._present = self._present[:, :, :, :0]
        vantages = tuple(sorted(self._v, key=self._v.__getitem__))
        return RollupSummary(
            self.terminals, vantages, self.start_ns, self.counts, self.scalars, self.rtt, self.jit, self.rows
        )


@dataclass(frozen=True, slots=True)
class RollupRows:
    """A store part's share of a window's hourly rollups, coded for one :class:`RollupReducer`.

    ``t`` is the reducer's terminal row (-1: not asked for, or a kind not asked for), ``v`` its vantage
    code, ``k`` the kind's index in ``ProbeKind``. Three pieces, each any split of the part's rows:

    * presence: ``t, v, k, hour_ns`` of every hourly row in the window;
    * series maxima: ``mt, mv, mk, mmax``, the largest hourly ``samples`` per (terminal, vantage, kind);
    * period sums: ``st`` and ``sums`` [M, len(SCALARS)], the KPI counters over the reducer's period.

    A part pre-reduces what it can (per day, in its own thread) so the fold handles small arrays.
    """

    t: np.ndarray
    v: np.ndarray
    k: np.ndarray
    hour_ns: np.ndarray
    mt: np.ndarray
    mv: np.ndarray
    mk: np.ndarray
    mmax: np.ndarray
    st: np.ndarray
    sums: np.ndarray

    @staticmethod
    def from_rows(
        t: np.ndarray,
        v: np.ndarray,
        k: np.ndarray,
        hour_ns: np.ndarray,
        scalars: np.ndarray,
        period: tuple[int, int],
    ) -> RollupRows:
        """From hourly rows with their ``SCALARS`` (column 0 = ``samples``): maxima and period sums."""
        t, v, k = np.asarray(t, np.int64), np.asarray(v, np.int64), np.asarray(k, np.int64)
        hour_ns, scalars = np.asarray(hour_ns, np.int64), np.asarray(scalars, np.int64)
        ok = t >= 0
        t, v, k, hour_ns, scalars = t[ok], v[ok], k[ok], hour_ns[ok], scalars[ok]
        width_v, width_k = int(v.max(initial=0)) + 1, int(k.max(initial=0)) + 1
        key = (t * width_v + v) * width_k + k
        series, inverse = np.unique(key, return_inverse=True)
        mmax = np.zeros(len(series), np.int64)
        np.maximum.at(mmax, inverse.reshape(-1), scalars[:, 0])
        mt, rest = np.divmod(series, width_v * width_k)
        mv, mk = np.divmod(rest, width_k)
        inside = (hour_ns >= period[0]) & (hour_ns < period[1])
        st, at = np.unique(t[inside], return_inverse=True)
        sums = np.zeros((len(st), len(SCALARS)), np.int64)
        np.add.at(sums, at.reshape(-1), scalars[inside])
        return RollupRows(t, v, k, hour_ns, mt, mv, mk, mmax, st, sums)
