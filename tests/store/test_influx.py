"""InfluxDB client and store against a real influxd (Debian's 1.6.7) and a v2 gateway in front of it.

Round trips are checked twice: through our InfluxQL reader and through the fixture's own urllib query,
so a symmetric bug in our writer and reader cannot pass unnoticed. Error cases check that the message
names the cause and the place (URL, database) an operator has to fix.

The v2 path: influxd 1.6.7 answers 404 on /api/v2/write (measured), so the v2 write API is exercised
against :class:`V2Gateway`, a loopback server that enforces 2.x's org/bucket/token/precision rules and
hands the body to the real influxd.
"""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from slaprobe.cli import cli
from slaprobe.config import InfluxConfig
from slaprobe.model import Heartbeat, Outcome, ProbeKind, Sample
from slaprobe.store.influx import ErrorKind, InfluxClient, InfluxError, InfluxStore
from tests.store.influx_doubles import V2Gateway, nothing_listening

pytestmark = pytest.mark.influx

T0 = 1_700_000_000_000_000_000
TRICKY = {
    "t 1,x=y": {"carrier": "tele com", "region": "杭州,西湖", "level": "city", "tier": "a=b"},
    'q"uote': {"carrier": "unicom", "region": "r", "level": "village", "tier": ""},
    "plain": {"carrier": "telecom", "region": "r", "level": "city", "tier": "basic"},
}


def _samples() -> list[Sample]:
    out = []
    kinds = list(ProbeKind)
    for i, terminal in enumerate(TRICKY):
        for j, kind in enumerate(kinds):
            out.append(
                Sample(
                    time_ns=T0 + (i * 10 + j) * 1_000_000_000 + 7_000_000,  # whole ms
                    terminal=terminal,
                    vantage="probe-1",
                    kind=kind,
                    sent=5,
                    received=5 - j,
                    rtt_min_ms=0.1,
                    rtt_avg_ms=1e-05 if j == 0 else 12.5,
                    rtt_max_ms=1e16,
                    jitter_ms=5e-324 if i == 0 else None,
                    mos=4.41 if kind is ProbeKind.RTP else None,
                    error=Outcome.OK if j == 0 else Outcome.PARTIAL,
                )
            )
    return out


def _cfg(server, db: str, **kw) -> InfluxConfig:
    return InfluxConfig(url=server.url, database=db, **kw)


def test_round_trip_with_tricky_tags_and_floats(influxd, influx_db):
    store = InfluxStore(_cfg(influxd, influx_db), tags=TRICKY)
    written = _samples()
    store.write_samples(written)
    # Through our reader: the very samples, time-ordered across kinds.
    assert list(store.samples(T0, T0 + 10**12)) == sorted(written, key=lambda s: s.time_ns)
    # Through the fixture's independent reader: tags exactly as given, lost precomputed.
    rows = influxd.rows("SELECT * FROM \"rtp\" WHERE terminal = 't 1,x=y'", influx_db)
    assert len(rows) == 1
    row = rows[0]
    tags = (row["carrier"], row["region"], row["tier"], row["level"])
    assert tags == ("tele com", "杭州,西湖", "a=b", "city")
    assert (row["sent"], row["received"], row["lost"], row["mos"]) == (5, 3, 2, 4.41)
    assert row["jitter_ms"] == 5e-324 and row["rtt_max_ms"] == 1e16
    assert row["time"] == written[2].time_ns
    # The empty tier is left out rather than written as an empty tag.
    rows = influxd.rows('SELECT * FROM "icmp" WHERE terminal = \'q"uote\'', influx_db)
    assert rows[0]["tier"] is None


def test_filters_terminals_kinds_and_bad_samples(influxd, influx_db):
    store = InfluxStore(_cfg(influxd, influx_db), tags=TRICKY)
    written = _samples()
    store.write_samples(written)
    got = list(store.samples(T0, T0 + 10**12, terminals=["plain"], kinds=[ProbeKind.RTP, ProbeKind.STAMP]))
    assert got == [s for s in written if s.terminal == "plain" and s.kind in (ProbeKind.RTP, ProbeKind.STAMP)]
    many = ["plain", *(f"x{i}" for i in range(100))]  # above the server-side OR-list size
    plain = [s for s in written if s.terminal == "plain"]
    assert list(store.samples(T0, T0 + 10**12, terminals=many)) == plain
    bad = sorted((s for s in written if s.received < s.sent), key=lambda s: s.time_ns)
    assert list(store.bad_samples(T0, T0 + 10**12)) == bad
    # Half-open time window: the first sample's own time is in, the window end is out.
    first = min(s.time_ns for s in written)
    assert [s.time_ns for s in store.samples(first, first + 1)] == [first]
    assert list(store.samples(first - 1, first)) == []


def test_int_value_in_float_field_does_not_conflict(influxd, influx_db):
    store = InfluxStore(_cfg(influxd, influx_db))
    a = Sample(T0, "t", "v", ProbeKind.ICMP, 5, 5, rtt_avg_ms=5)  # type: ignore[arg-type]
    b = Sample(T0 + 1_000_000_000, "t", "v", ProbeKind.ICMP, 5, 5, rtt_avg_ms=5.5)
    store.write_samples([a])
    store.write_samples([b])
    assert [s.rtt_avg_ms for s in store.samples(T0, T0 + 10**10)] == [5.0, 5.5]


def test_heartbeats_round_trip_and_vantage_filter(influxd, influx_db):
    store = InfluxStore(_cfg(influxd, influx_db))
    hbs = [
        Heartbeat(T0, "probe-1", "default", 60.0, 100, 99, 2, 1, 41.5, 2, 2),
        Heartbeat(T0 + 60 * 10**9, "probe-2", "province", 30.0, 10, 10, 0, 0, 3.25),
    ]
    store.write_heartbeats(hbs)
    assert list(store.heartbeats(T0, T0 + 10**12)) == hbs
    assert list(store.heartbeats(T0, T0 + 10**12, vantage="probe-2")) == hbs[1:]


def test_rewriting_identical_points_overwrites(influxd, influx_db):
    store = InfluxStore(_cfg(influxd, influx_db), tags=TRICKY)
    written = _samples()
    for _ in range(3):
        store.write_samples(written)
    counts = influxd.query('SELECT count("sent") FROM "icmp"', influx_db)
    assert counts[0]["values"][0][1] == len(TRICKY)


def test_api_auto_picks_v1_on_influxdb_1x(influxd, influx_db):
    info = InfluxClient(_cfg(influxd, influx_db)).ping()
    assert info.version.startswith("1.6") and info.build == "OSS"
    assert info.api == "v1"


# ---------------------------------------------------------------------- errors an operator must understand
def _write_error(cfg: InfluxConfig) -> InfluxError:
    with pytest.raises(InfluxError) as err:
        InfluxStore(cfg).write_samples(_samples()[:1])
    return err.value


def test_wrong_password(influxd_auth):
    influxd_auth.create_database("authdb")
    user, _ = influxd_auth.admin
    err = _write_error(_cfg(influxd_auth, "authdb", username=user, password="wrong"))
    assert err.kind is ErrorKind.AUTH and err.status == 401
    assert "credentials rejected" in str(err) and influxd_auth.url in str(err)


def test_missing_credentials(influxd_auth):
    err = _write_error(_cfg(influxd_auth, "authdb", password_env=""))
    assert err.kind is ErrorKind.AUTH


def test_right_password_writes(influxd_auth):
    influxd_auth.create_database("authdb")
    user, password = influxd_auth.admin
    store = InfluxStore(_cfg(influxd_auth, "authdb", username=user, password=password))
    store.write_samples(_samples()[:1])
    assert len(list(store.samples(T0, T0 + 10**12))) == 1


def test_wrong_database(influxd):
    err = _write_error(_cfg(influxd, "no_such_db"))
    assert err.kind is ErrorKind.NOT_FOUND and "no_such_db" in str(err)
    with pytest.raises(InfluxError, match="database not found: no_such_db"):
        list(InfluxStore(_cfg(influxd, "no_such_db")).samples(0, 1))


def test_wrong_retention_policy(influxd, influx_db):
    err = _write_error(_cfg(influxd, influx_db, retention_policy="nope"))
    assert err.kind is ErrorKind.NOT_FOUND and "retention policy not found: nope" in str(err)


def test_unreachable_port():
    with nothing_listening() as port:
        err = _write_error(InfluxConfig(url=f"http://127.0.0.1:{port}"))
    assert err.kind is ErrorKind.UNREACHABLE
    assert f"127.0.0.1:{port}" in str(err) and "refused" in str(err).lower()


def test_v2_api_against_1x_says_it_has_no_v2(influxd, influx_db):
    err = _write_error(_cfg(influxd, influx_db, api="v2", token="x"))
    assert err.kind is ErrorKind.NOT_FOUND and "no v2 API" in str(err)


# ---------------------------------------------------------------------- v2 write API
@pytest.fixture
def gateway(influxd, influx_db):
    with V2Gateway(influxd.http_port, org="province", token="s3cret", buckets={influx_db}) as gw:
        yield gw


def test_v2_write_and_read_through_gateway(gateway, influxd, influx_db):
    cfg = InfluxConfig(url=gateway.url, org="province", bucket=influx_db, token="s3cret", token_env="")
    store = InfluxStore(cfg, tags=TRICKY)
    assert store.client.ping().api == "v2"
    written = _samples()
    store.write_samples(written)
    assert list(store.samples(T0, T0 + 10**12)) == sorted(written, key=lambda s: s.time_ns)
    writes = [p for path, p in gateway.requests if path == "/api/v2/write"]
    assert writes and all(p == {"org": "province", "bucket": influx_db, "precision": "ms"} for p in writes)
    assert ("/write", {}) not in [(path, {}) for path, _ in gateway.requests]
    # The points really are in influxd, with the ms timestamps as written.
    assert len(influxd.rows('SELECT * FROM "stamp"', influx_db)) == len(TRICKY)


def test_v2_auto_without_token_falls_back_to_v1_compat(gateway, influx_db):
    cfg = InfluxConfig(url=gateway.url, database=influx_db, token_env="")
    info = InfluxClient(cfg).ping()
    assert info.api == "v1" and "no token" in info.reason


@pytest.mark.parametrize(
    ("change", "kind", "text"),
    [
        ({"token": "wrong"}, ErrorKind.AUTH, "credentials rejected"),
        ({"org": "other"}, ErrorKind.NOT_FOUND, 'organization name "other" not found'),
        ({"bucket": "nobucket"}, ErrorKind.NOT_FOUND, 'bucket "nobucket" not found'),
    ],
    ids=["token", "org", "bucket"],
)
def test_v2_errors(gateway, influx_db, change, kind, text):
    base = {"url": gateway.url, "org": "province", "bucket": influx_db, "token": "s3cret", "token_env": ""}
    err = _write_error(InfluxConfig(**{**base, **change}))
    assert err.kind is kind and text in str(err)


# ---------------------------------------------------------------------- slaprobe store check
def _config_file(tmp_path: Path, influx: dict) -> Path:
    lines = "\n".join(f"  {k}: {json.dumps(v)}" for k, v in influx.items())
    path = tmp_path / "slaprobe.yaml"
    path.write_text(f"vantage: probe-9\nstate_dir: {tmp_path}\ninflux:\n{lines}\n")
    return path


def _store_check(tmp_path: Path, influx: dict) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["store", "check", "--config", str(_config_file(tmp_path, influx))])
    return result.exit_code, result.output


def test_store_check_all_good(tmp_path, influxd, influx_db):
    code, out = _store_check(tmp_path, {"url": influxd.url, "database": influx_db})
    assert code == 0, out
    assert "[ok] reach" in out and "1.6.7" in out and "[ok] api   v1" in out
    assert "[ok] write" in out and "[ok] read" in out
    rows = influxd.rows("SELECT * FROM slaprobe_check", influx_db)
    assert [r["vantage"] for r in rows] == ["probe-9"]


def test_store_check_wrong_password(tmp_path, influxd_auth):
    influxd_auth.create_database("authdb")
    code, out = _store_check(
        tmp_path, {"url": influxd_auth.url, "database": "authdb", "username": "slp-admin", "password": "nope"}
    )
    assert code == 1
    assert "[FAIL] write" in out and "credentials rejected (HTTP 401" in out and "hint:" in out


def test_store_check_wrong_database(tmp_path, influxd):
    code, out = _store_check(tmp_path, {"url": influxd.url, "database": "missing_db"})
    assert code == 1 and "[FAIL] write" in out and 'database not found: "missing_db"' in out
    assert "CREATE DATABASE" in out


def test_store_check_unreachable(tmp_path):
    with nothing_listening() as port:
        code, out = _store_check(tmp_path, {"url": f"http://127.0.0.1:{port}"})
    assert code == 1 and "[FAIL] reach" in out and "refused" in out.lower()


def test_store_check_json_v2(tmp_path, gateway, influx_db):
    cfg = {"url": gateway.url, "org": "province", "bucket": influx_db, "token": "s3cret"}
    path = _config_file(tmp_path, cfg)
    result = CliRunner().invoke(cli, ["store", "check", "--json", "--config", str(path)])
    report = json.loads(result.output)
    assert result.exit_code == 0 and report["ok"] is True
    assert [s["name"] for s in report["steps"]] == ["reach", "api", "write", "read"]
    assert report["steps"][1]["detail"].startswith("v2:")


def test_cli_module_entry_point_runs():
    """The systemd unit runs the console script; `python -m slaprobe` is the same click group."""
    import subprocess

    out = subprocess.run(
        [sys.executable, "-m", "slaprobe", "store", "check", "--help"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=True,
    )
    assert "which API" in textwrap.dedent(out.stdout)
