"""The Grafana dashboard (config/grafana/slaprobe-dashboard.json): its structure, and every InfluxQL
query in it run against a real influxd holding the synthetic month (written through ``InfluxStore``).

Grafana's own macros and variables are substituted the way its InfluxDB data source does:
``$timeFilter`` -> ``time >= <from>ms and time <= <to>ms``, ``$__interval`` -> a duration, a multi-value
variable in ``=~ /^$v$/`` -> ``(a|b)`` or the "All" value ``.*``, ``$kind`` -> each probe kind in turn.
"""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path

import pytest

from slaprobe.config import InfluxConfig
from slaprobe.model import ProbeKind
from slaprobe.store.influx import InfluxStore
from slaprobe.store.lineproto import HEARTBEAT_FIELDS, HEARTBEAT_TAGS, SAMPLE_FIELDS, SAMPLE_TAGS
from tests.report import synth

DASHBOARD = Path(__file__).resolve().parents[2] / "config" / "grafana" / "slaprobe-dashboard.json"
KINDS = tuple(k.measurement for k in ProbeKind)
STEP_S = 600  # every 10 minutes: enough points for every panel, light enough to write in seconds


def load() -> dict:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def panels(dash: dict) -> list[dict]:
    return [p for p in dash["panels"] if p["type"] != "row"]


def queries(dash: dict) -> list[tuple[str, str]]:
    out = [(p["title"], t["query"]) for p in panels(dash) for t in p["targets"]]
    out += [(f"variable {v['name']}", v["query"]) for v in dash["templating"]["list"] if v["type"] == "query"]
    return out


def test_structure() -> None:
    dash = load()
    assert dash["uid"] and dash["title"] and isinstance(dash["schemaVersion"], int)
    variables = {v["name"]: v for v in dash["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "influxdb"
    assert [o["value"] for o in variables["kind"]["options"]] == list(KINDS)
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    titles = [p["title"] for p in panels(dash)]
    for needed in ("availability", "loss", "round-trip", "jitter", "worst terminals", "heartbeats"):
        assert any(needed in t.lower() for t in titles), needed
    for p in panels(dash):
        assert p["type"] in ("timeseries", "table", "stat"), p["title"]
        assert p["datasource"] == {"type": "influxdb", "uid": "${datasource}"}
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24 and g["h"] > 0
        refs = [t["refId"] for t in p["targets"]]
        assert refs and len(refs) == len(set(refs))
        for t in p["targets"]:
            assert t["rawQuery"] is True and t["datasource"] == p["datasource"]
            assert t["resultFormat"] == ("table" if p["type"] == "table" else "time_series")
    boxes = [(p["gridPos"], p["title"]) for p in dash["panels"]]
    for (a, ta), (b, tb) in combinations(boxes, 2):
        overlap = a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"] and a["y"] < b["y"] + b["h"]
        assert not (overlap and b["y"] < a["y"] + a["h"]), (ta, tb)


def test_queries_use_only_the_schema_and_defined_variables() -> None:
    dash = load()
    defined = {v["name"] for v in dash["templating"]["list"]} | {"timeFilter", "__interval"}
    known = set(SAMPLE_FIELDS) | set(SAMPLE_TAGS) | set(HEARTBEAT_FIELDS) | set(HEARTBEAT_TAGS)
    known |= {"heartbeat", "rtp", "high", "loss_pct", "unanswered", "rtt_p95_ms"}  # measurement, aliases
    for title, q in queries(dash):
        assert set(re.findall(r"\$(\w+)", q)) <= defined, title
        assert set(re.findall(r'"(\w+)"', q)) <= known, (title, set(re.findall(r'"(\w+)"', q)) - known)


@pytest.fixture(scope="module")
def month_db(influxd) -> str:  # type: ignore[no-untyped-def]
    db = "slp_html_grafana"
    influxd.create_database(db)
    store = InfluxStore(InfluxConfig(url=influxd.url, database=db, gzip=False), tags=synth.tags())
    store.write_samples(list(synth.samples(STEP_S, tuple(ProbeKind))))
    store.write_heartbeats(list(synth.heartbeats(STEP_S)))
    store.close()
    yield db
    influxd.drop_database(db)


def substitute(q: str, kind: str, choice: str) -> str:
    start_ms = int(synth.START.timestamp()) * 1000
    end_ms = int(synth.END.timestamp()) * 1000 - 1
    values = {
        "timeFilter": f"time >= {start_ms}ms and time <= {end_ms}ms",
        "__interval": "1h",
        "kind": kind,
        "carrier": ".*" if choice == "all" else "(telecom|unicom)",
        "region": ".*" if choice == "all" else "(haikou|dongfang)",
        "vantage": ".*" if choice == "all" else f"({synth.VANTAGE})",
    }
    return re.sub(r"\$(\w+)", lambda m: values[m.group(1)], q)


@pytest.mark.influx
@pytest.mark.parametrize("choice", ["all", "some"])
def test_every_query_runs_and_returns_data(influxd, month_db: str, choice: str) -> None:  # type: ignore[no-untyped-def]
    ran = 0
    for title, q in queries(load()):
        for kind in KINDS if "$kind" in q else ("-",):
            series = influxd.query(substitute(q, kind, choice), month_db)  # raises on an InfluxQL error
            values = [v for s in series for row in s["values"] for v in row[1:] if v is not None]
            assert values, f"{title} ({kind}): no data"
            ran += 1
    assert ran >= 50
