"""Benchmark: the SLA engine alone at 20,000 terminals (a month, Δt 60 s), inputs synthesized in memory.

    python bench/sla_engine_scale.py --terminals 20000 [1820]

Writing a real month for 20,000 terminals takes ~15 h on this machine (0.9 G samples), so this measures
the part that does not depend on the store: ``compute_month`` + the JSON renderer over exactly the
inputs a store would return for a ``lab month`` plan (problem rows, hourly presence, heartbeats, the
period's KPI sums), built here with numpy. Each size runs in a fresh process; wall time and peak RSS
(``wait4``) are printed next to the store read times measured for 1,820 terminals by sla_month.py,
scaled linearly (every read is linear in rows). The ground truth of the plan is checked too.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def child(n: int, month: str) -> None:
    import numpy as np

    from slaprobe import sample_network
    from slaprobe.lab.month import MonthProfile, _hour_codes, heartbeats_for, plan_month, slot_offsets_ns
    from slaprobe.report.availability_json import render_json
    from slaprobe.sla.engine import compute_month, month_period, window_for
    from slaprobe.sla.inputs import SampleColumns, SlaInputs, heartbeats_to_columns
    from slaprobe.sla.kpi import HOUR_NS, SCALARS, bucket_of
    from slaprobe.sla.rollups import RollupReducer
    from slaprobe.sla.rule import rule_from

    t0 = time.perf_counter()
    plan = plan_month(sample_network.generate(n, seed=2022), month, MonthProfile())
    rule, period = rule_from("mef10.3"), month_period(month)
    window = window_for(rule, period)
    assert window.start_ns == plan.start_ns and window.count == plan.count
    vantage = plan.profile.vantages[0]
    ids = [t.id for t in plan.terminals]
    reducer = RollupReducer(
        window.start_ns, window.end_ns, [plan.profile.kind], ids, (period.start_ns, period.end_ns)
    )
    v = reducer.vantage(vantage)
    rng = np.random.default_rng(1)
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("t", "time", "sent", "recv", "m")}
    per_hour = 3600 // plan.profile.interval_s
    for h in range(plan.count // per_hour):
        a, b = h * per_hour, (h + 1) * per_hour
        phase = slot_offsets_ns(plan, a)  # the daemon's slots (in-service sets change at local midnights)
        codes = _hour_codes(plan, a, b, rng)
        if plan.host_down is not None:
            h0, h1 = plan.host_down
            codes[:, max(h0, a) - a : max(min(h1, b) - a, 0)] = -1
        present = (codes >= 0).sum(axis=1)
        reducer.add_presence(np.arange(n), np.full(n, v), np.full(n, window.start_ns + h * HOUR_NS), present)
        t_idx, k_idx = np.nonzero(codes > 0)
        code = codes[t_idx, k_idx]
        cols["t"].append(t_idx)
        cols["time"].append(window.start_ns + (a + k_idx) * window.interval_ns + phase[t_idx])
        cols["sent"].append(np.where(code == 4, 0, 5))
        cols["recv"].append(np.select([code == 1, code == 2, code == 3], [0, 1, 4], 0))
        cols["m"].append(code != 4)
    # the period's KPI sums: one bucket per terminal is enough to exercise the aggregation
    minutes = np.full(n, 44_640)
    sums = np.zeros((n, len(SCALARS)), dtype=np.int64)
    sums[:, 0] = sums[:, 1] = sums[:, 8] = minutes
    sums[:, 2] = sums[:, 3] = 5 * minutes
    reducer.add_scalars(np.arange(n), sums)
    blob = np.zeros(1, dtype=[("bucket", "<u2"), ("count", "<u4")])
    blob["bucket"], blob["count"] = bucket_of(20.0), 44_640
    reducer.add_hists(np.arange(n), [blob.tobytes()] * n, [blob.tobytes()] * n)
    cat = {k: np.concatenate(x) for k, x in cols.items()}
    problems = SampleColumns(
        tuple(ids),
        (vantage,),
        cat["t"].astype(np.int32),
        np.zeros(len(cat["t"]), np.int32),
        np.zeros(len(cat["t"]), np.int8),
        cat["time"].astype(np.int64),
        cat["sent"].astype(np.int64),
        cat["recv"].astype(np.int64),
        cat["m"].astype(bool),
    )
    beats = heartbeats_to_columns(heartbeats_for(plan, 0, plan.count, vantage))
    inputs = SlaInputs(window.start_ns, window.end_ns, problems, reducer.build(), beats)
    built = time.perf_counter() - t0

    t1 = time.perf_counter()
    report = compute_month(plan.terminals, rule, period, inputs, plan.maintenance)
    text = render_json(report)
    engine = time.perf_counter() - t1
    truth = plan.truth["terminals"]
    wrong = sum(
        1
        for r in report.results
        if (r.available_s, r.unavailable_s, r.unknown_s, r.maintenance_s)
        != tuple(truth[r.terminal][k] for k in ("available_s", "unavailable_s", "unknown_s", "maintenance_s"))
    )
    print(
        json.dumps(
            {
                "build_s": built,
                "engine_s": engine,
                "problem_rows": len(problems),
                "json_mb": len(text) / 1e6,
                "truth_mismatches": wrong,
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--terminals", type=int, nargs="+", default=[20_000, 1820])
    ap.add_argument("--month", default="2022-12")
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.month)
        return
    print(
        f"{'terminals':>9} {'inputs s':>9} {'engine+json s':>13} {'peak MiB':>9} {'problem rows':>12} "
        f"{'JSON MB':>8} {'truth ok':>8}"
    )
    for n in args.terminals:
        cmd = [sys.executable, __file__, "--child", str(n), "--month", args.month]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        if status:
            raise SystemExit(f"child for {n} terminals failed ({status})")
        r = json.loads(proc.stdout.read() if proc.stdout else b"{}")
        print(
            f"{n:>9} {r['build_s']:>9.1f} {r['engine_s']:>13.1f} {usage.ru_maxrss / 1024:>9.0f} "
            f"{r['problem_rows']:>12,} {r['json_mb']:>8.1f} {'yes' if not r['truth_mismatches'] else 'NO':>8}"
        )


if __name__ == "__main__":
    main()
