"""The journal's day read for compaction (slaprobe/store/journal_day.py) against the journal's own
row-by-row reads: ``stored_rows_after`` + ``series_by_id`` (the shipper's path) and
``heartbeat_rows_after``, filtered to the day in Python. Journals are built by hand, one case each."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import slaprobe.store.journal_day as journal_day
from slaprobe.model import Heartbeat, Outcome, ProbeKind, Sample
from slaprobe.store.columnar import DAY_NS, SERIES_TAGS, VALUE_COLUMNS, day_start_ns
from slaprobe.store.journal import STORED_COLUMNS, JournalStore
from slaprobe.store.journal_day import read_day

DAY = day_start_ns(dt.date(2023, 3, 14))
MIN = 60 * 10**9


def _sample(t: int, terminal: str = "t1", vantage: str = "v1", **kw: object) -> Sample:
    base: dict[str, object] = {"sent": 5, "received": 5, "rtt_min_ms": 10.25, "rtt_avg_ms": 11.5}
    base.update(kw)
    return Sample(time_ns=t, terminal=terminal, vantage=vantage, kind=ProbeKind.ICMP, **base)  # type: ignore[arg-type]


def _beat(t: int, vantage: str = "v1") -> Heartbeat:
    return Heartbeat(t, vantage, "default", 60.0, 3, 3, 0, 0, 1.5, 1, 1)


def _expected(
    j: JournalStore, start: int, after: tuple[int, int] = (0, 0)
) -> tuple[list, list, int, int, int]:
    """(rows as (tags..., time_ns, error, values...), heartbeat tuples, max ids, smallest sample id
    read) by the journal's reads."""
    stored = [r for r in j.stored_rows_after(after[0], 10**9) if start <= r[1] < start + DAY_NS]
    tags = j.series_by_id(r[2] for r in stored)  # (kind, terminal, vantage, carrier, region, level, tier)
    col = {c: i + 1 for i, c in enumerate(STORED_COLUMNS)}
    rows = []
    for r in stored:
        kind, terminal, vantage, *rest = tags[r[2]]
        rows.append(
            (
                terminal,
                vantage,
                kind,
                *rest,
                r[col["time_ns"]],
                r[col["error"]],
                *(r[col[c]] for c in VALUE_COLUMNS),
            )
        )
    beats = [
        (i, h) for i, h in j.heartbeat_rows_after(after[1], 10**9) if start <= h.time_ns < start + DAY_NS
    ]
    return (
        sorted(rows, key=repr),
        sorted((dataclasses.astuple(h) for _, h in beats), key=repr),
        max((r[0] for r in stored), default=after[0]),
        max((i for i, _ in beats), default=after[1]),
        min((r[0] for r in stored), default=0),
    )


def _got(j: JournalStore, start: int, after: tuple[int, int] = (0, 0), workers: int = 0) -> tuple:
    day = read_day(j, start, after, workers)
    table = day.samples_table()
    cols = [table.column(c).to_pylist() for c in (*SERIES_TAGS, "time_ns", "error", *VALUE_COLUMNS)]
    rows = sorted(zip(*cols, strict=True), key=repr)
    beats = sorted(zip(*(c.to_pylist() for c in day.heartbeats.columns), strict=True), key=repr)
    assert day.num_samples == len(rows)
    return rows, beats, day.max_sample, day.max_heartbeat, day.min_sample


@pytest.fixture
def journal(tmp_path: Path) -> JournalStore:
    with JournalStore(tmp_path / "journal.sqlite") as j:
        yield j


def test_rows_nulls_and_series_match_the_journal_reads(journal: JournalStore) -> None:
    journal.set_terminal_tags({"t1": {"carrier": "cmcc", "region": "north", "level": "gold", "tier": "a"}})
    journal.write_samples(
        [
            _sample(DAY + 5 * MIN),
            _sample(DAY + 5 * MIN, vantage="v2"),  # same terminal, another vantage: another series
            _sample(DAY + 6 * MIN, received=0, rtt_min_ms=None, rtt_avg_ms=None, error=Outcome.TIMEOUT),
            _sample(
                DAY + 7 * MIN, terminal="t2", loss_fwd=0.5, mos=4.25, malformed=2, malformed_reason="38-byte"
            ),
        ]
    )
    journal.write_heartbeats([_beat(DAY + 5 * MIN), _beat(DAY + 5 * MIN, "v2")])
    # an older journal's NULL counters (ZERO_IF_NULL columns): read as NULL, as the old select did
    journal._db.execute("UPDATE samples SET duplicates = NULL, max_loss_burst = NULL WHERE id = 2")
    want = _expected(journal, DAY)
    assert len(want[0]) == 4 and any(r[SERIES_TAGS.index("carrier")] == "" for r in want[0])  # t2: no tags
    assert _got(journal, DAY) == want
    assert _got(journal, DAY, workers=1) == want
    assert _got(journal, DAY, workers=3) == want


def test_day_boundaries_and_ids_out_of_time_order(journal: JournalStore) -> None:
    end = DAY + DAY_NS
    journal.write_samples([_sample(end - 1), _sample(end)])  # the day's last ns first, then the next day
    journal.write_samples(
        [_sample(DAY - 1), _sample(DAY), _sample(DAY + 3 * MIN)]
    )  # earlier rows, higher ids
    journal.write_heartbeats([_beat(DAY - 1), _beat(DAY), _beat(end - 1), _beat(end)])
    want = _expected(journal, DAY)
    assert sorted(r[len(SERIES_TAGS)] for r in want[0]) == [DAY, DAY + 3 * MIN, end - 1]
    assert len(want[1]) == 2 and want[2] == 5  # the day's rows have ids 1, 4, 5
    assert _got(journal, DAY) == want
    assert _got(journal, DAY - DAY_NS) == _expected(journal, DAY - DAY_NS)  # just the one row before


def test_rows_above_ids_already_compacted(journal: JournalStore) -> None:
    journal.write_samples([_sample(DAY + k * MIN) for k in range(4)])
    journal.write_heartbeats([_beat(DAY), _beat(DAY + MIN)])
    journal.write_samples([_sample(DAY + 2 * MIN, vantage="late")])
    journal.write_heartbeats([_beat(DAY + 2 * MIN)])
    want = _expected(journal, DAY, (4, 2))
    assert len(want[0]) == 1 and len(want[1]) == 1
    assert _got(journal, DAY, (4, 2)) == want
    assert _got(journal, DAY, (5, 3)) == ([], [], 5, 3, 0)  # nothing new: the ids asked for come back


def test_empty_day_and_empty_journal(journal: JournalStore) -> None:
    assert _got(journal, DAY) == ([], [], 0, 0, 0)
    journal.write_samples([_sample(DAY + DAY_NS + MIN)])
    day = read_day(journal, DAY)
    assert day.num_samples == 0 and day.heartbeats.num_rows == 0
    assert day.samples_table().num_rows == 0 and day.samples_table().column_names[:7] == list(SERIES_TAGS)


def test_types_come_from_the_schema_not_the_first_batch(journal: JournalStore, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A column NULL throughout the driver's first batch (here batches of 2 rows) still reads as its
    schema type when a value comes later: text, float and integer alike."""
    monkeypatch.setattr(journal_day, "BATCH_ROWS", 2)
    plain = [_sample(DAY + k * MIN, received=0, rtt_min_ms=None, rtt_avg_ms=None) for k in range(5)]
    late = _sample(
        DAY + 9 * MIN, loss_fwd=0.125, jitter_fwd_ms=0.5, malformed=1, malformed_reason="short reply"
    )
    journal.write_samples([*plain, late])
    journal._db.execute("UPDATE samples SET late = NULL WHERE id < 6")
    want = _expected(journal, DAY)
    got = _got(journal, DAY, workers=1)
    assert got == want
    day = read_day(journal, DAY, workers=1)
    assert str(day.samples["malformed_reason"].type) == "string"
    # float columns come as numpy float64 (NULL: NaN), what the tier writer takes without a copy
    assert day.samples["rtt_avg_ms"].dtype == np.float64 and str(day.samples["late"].type) == "int64"


def test_tags_are_dictionary_coded_by_series(journal: JournalStore) -> None:
    journal.set_terminal_tags({"t1": {"carrier": "cu"}, "t2": {"carrier": "cu"}})
    # terminals in series order (indices = series codes), one vantage (all 0), carriers shared (mapped)
    journal.write_samples([_sample(DAY + k * MIN, terminal=f"t{k % 3}") for k in range(9)])
    journal.write_samples([_sample(DAY + k * MIN, terminal="a0", vantage="v2") for k in range(2)])
    assert _got(journal, DAY) == _expected(journal, DAY)
    day = read_day(journal, DAY)
    for tag in SERIES_TAGS:
        assert pa.types.is_dictionary(day.samples[tag].type)  # indices, not a string per row
        values = day.samples[tag].dictionary.to_pylist()
        assert values == sorted(set(values))  # each value once: equal tags, equal indices
    assert sorted(set(day.samples["carrier"].to_pylist())) == ["", "cu"]
    assert str(day.samples["error"].type.value_type) == "string"
