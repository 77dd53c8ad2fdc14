"""E-model (ITU-T G.107 §7, every term) against published worked values and an independent computation.

Sources of the expected numbers:
* ITU-T G.107 §7: with every parameter at its default value the rating is R = 93.2.
* R -> MOS points (G.107 Annex B curve; G.109 user-satisfaction bands) as tabulated in Mitel MiVoice
  MX-ONE CPI, "Speech Quality Measurement", Table 2: R 90 -> 4.34, 80 -> 4.0, 70 -> 3.6, 60 -> 3.1,
  50 -> 2.6 (two decimals only for 4.34; the others are given to one decimal).
* Ie at 0 % and 2 % random packet loss (values following ITU-T G.113 Appendix I Ie/Bpl) as tabulated in
  ICAO ACP WG-I/3 working paper 306, Appendix B, Table B-1: G.711 with PLC 0 / 7, G.729A+VAD 11 / 19,
  G.723.1A+VAD 15 / 24 (rounded to integers there).
* Issue #15's independent check of the linear Id shortcut against full G.107 (default parameters,
  Ta = T = d, Tr = 2d): the shortcut is off by +0.89 R at 177.3 ms, -1.2 at 350, -3.1 at 400, -9.1 at 500.
* :func:`_reference_r` below: G.107 (06/2015) equations 7-1 .. 7-30 transcribed in one straight-line
  function with the defaults of its Table 1 written out, sharing no code with the module.
* G.711 without PLC: about 25 R-units per percent of loss at low loss, with PLC about 4 (Telektronikk
  article on IP telephony speech quality, Figure 5 discussion), i.e. Bpl 4.3 and 25.1 of G.113.
"""

from __future__ import annotations

import itertools
import math

import pytest

from slaprobe.probes.emodel import (
    CODECS,
    EmodelCodec,
    EmodelSettings,
    assess,
    delay_impairment,
    effective_equipment_impairment,
    mos_from_r,
    one_way_loss_from_round_trip,
    r_factor,
)


def test_default_rating_is_93_2() -> None:
    assert round(r_factor(0.0, 0.0, CODECS["g711"]), 1) == 93.2
    assert r_factor(0.0, 0.0, CODECS["g711"]) == pytest.approx(93.206, abs=0.001)


def _reference_r(d: float, ie: float, bpl: float, ppl: float) -> float:
    """G.107 R for mouth-to-ear delay d (Ta = T = d, Tr = 2d), written out equation by equation."""
    slr, rlr, stmr, lstr, ds, telr, wepl, qdu = 8, 2, 15, 18, 3, 65, 110, 1
    nc, nfor, ps, pr, a, burst = -70, -64, 35, 35, 0, 1
    t, ta, tr = d, d, 2 * d
    olr = slr + rlr
    nfo = nfor + rlr
    pre = pr + 10 * math.log10(1 + 10 ** ((10 - lstr) / 10))
    nor = rlr - 121 + pre + 0.008 * (pre - 35) ** 2
    nos = ps - slr - ds - 100 + 0.004 * (ps - olr - ds - 14) ** 2
    no = 10 * math.log10(10 ** (nc / 10) + 10 ** (nos / 10) + 10 ** (nor / 10) + 10 ** (nfo / 10))
    ro = 15 - 1.5 * (slr + no)
    xolr = olr + 0.2 * (64 + no - rlr)
    iolr = 20 * ((1 + (xolr / 8) ** 8) ** 0.125 - xolr / 8)
    stmro = -10 * math.log10(10 ** (-stmr / 10) + math.exp(-t / 4) * 10 ** (-telr / 10))
    ist = (
        12 * (1 + ((stmro - 13) / 6) ** 8) ** 0.125
        - 28 * (1 + ((stmro + 1) / 19.4) ** 35) ** (1 / 35)
        - 13 * (1 + ((stmro - 3) / 33) ** 13) ** (1 / 13)
        + 29
    )
    q = 37 - 15 * math.log10(qdu)
    g = 1.07 + 0.258 * q + 0.0602 * q**2
    iq = 15 * math.log10(1 + 10 ** ((ro - 100) / 15 + 46 / 8.4 - g / 9) + 10 ** (46 / 30 - g / 40))
    is_ = iolr + ist + iq
    terv = telr - 40 * math.log10((1 + t / 10) / (1 + t / 150)) + 6 * math.exp(-0.3 * t**2)
    re = 80 + 2.5 * (terv - 14)
    roe = -1.5 * (no - rlr)
    idte = ((roe - re) / 2 + math.sqrt((roe - re) ** 2 / 4 + 100) - 1) * (1 - math.exp(-t))
    rle = 10.5 * (wepl + 7) * (tr + 1) ** -0.25
    idle = (ro - rle) / 2 + math.sqrt((ro - rle) ** 2 / 4 + 169)
    x = math.log10(ta / 100) / math.log10(2) if ta > 100 else 0
    idd = 25 * ((1 + x**6) ** (1 / 6) - 3 * (1 + (x / 3) ** 6) ** (1 / 6) + 2) if ta > 100 else 0
    ie_eff = ie + (95 - ie) * ppl / (ppl / burst + bpl)
    return ro - is_ - (idte + idle + idd) - ie_eff + a


@pytest.mark.parametrize("codec", ["g711", "g711-noplc", "g729", "g722"])
@pytest.mark.parametrize("delay_ms", [0, 25, 50, 100, 150, 177.3, 200, 250, 300, 350, 400, 450, 500])
@pytest.mark.parametrize("loss_pct", [0.0, 1.0, 5.0])
def test_r_matches_independent_g107_computation(codec: str, delay_ms: float, loss_pct: float) -> None:
    c = CODECS[codec]
    expected = _reference_r(delay_ms, c.ie, c.bpl, loss_pct)
    assert r_factor(delay_ms, loss_pct / 100, c) == pytest.approx(expected, abs=0.1)


@pytest.mark.parametrize(
    ("delay_ms", "linear_minus_full"), [(177.3, -0.89), (350, 1.2), (400, 3.1), (500, 9.1)]
)
def test_full_delay_impairment_departs_from_linear_shortcut_as_measured(
    delay_ms: float, linear_minus_full: float
) -> None:
    linear = 0.024 * delay_ms + 0.11 * max(0.0, delay_ms - 177.3)
    assert linear - delay_impairment(delay_ms) == pytest.approx(linear_minus_full, abs=0.06)


@pytest.mark.parametrize(
    ("r", "mos", "tol"),
    [(90, 4.34, 0.005), (80, 4.0, 0.05), (70, 3.6, 0.05), (60, 3.1, 0.05), (50, 2.6, 0.05)],
)
def test_mos_conversion_published_points(r: float, mos: float, tol: float) -> None:
    assert mos_from_r(r) == pytest.approx(mos, abs=tol)


def test_mos_is_clamped_to_its_scale() -> None:
    assert mos_from_r(-5) == 1.0
    assert mos_from_r(3.0) == 1.0  # the cubic itself dips to 0.99 here
    assert mos_from_r(100) == 4.5
    assert mos_from_r(130) == 4.5
    assert mos_from_r(93.2) == pytest.approx(4.41, abs=0.005)  # "G.711 maximum: R 93, MOS 4.4"


@pytest.mark.parametrize(
    ("ie", "bpl", "published_at_2pct"),
    [
        (CODECS["g711"].ie, CODECS["g711"].bpl, 7),
        (CODECS["g729"].ie, CODECS["g729"].bpl, 19),
        (15.0, 16.1, 24),
    ],
)
def test_effective_equipment_impairment_matches_published_table(
    ie: float, bpl: float, published_at_2pct: int
) -> None:
    assert effective_equipment_impairment(ie, bpl, 0.0) == ie
    assert round(effective_equipment_impairment(ie, bpl, 2.0)) == published_at_2pct


def test_loss_slopes_with_and_without_concealment() -> None:
    with_plc = effective_equipment_impairment(0, CODECS["g711"].bpl, 1.0)
    without = effective_equipment_impairment(0, CODECS["g711-noplc"].bpl, 0.2) / 0.2
    assert with_plc == pytest.approx(4, abs=0.5)
    assert without == pytest.approx(21, abs=4)  # "about 25 units per percent" at low loss


def test_burstiness_hurts() -> None:
    random_loss = effective_equipment_impairment(0, 25.1, 5.0, burst_ratio=1.0)
    bursty = effective_equipment_impairment(0, 25.1, 5.0, burst_ratio=3.0)
    assert bursty > random_loss


def test_delay_impairment_is_zero_at_zero_and_grows() -> None:
    assert delay_impairment(0) == 0
    values = [delay_impairment(d) for d in range(0, 600, 25)]
    assert all(b > a for a, b in itertools.pairwise(values))


def test_assess_adds_buffer_and_codec_delay() -> None:
    settings = EmodelSettings(codec="g711", jitter_buffer_factor=2.0)
    verdict = assess(40.0, 5.0, 0.0, 1.0, settings)
    assert verdict.mouth_to_ear_ms == pytest.approx(40 + 10 + CODECS["g711"].delay_ms)
    assert verdict.r_factor == pytest.approx(_reference_r(verdict.mouth_to_ear_ms, 0.0, 25.1, 0.0), abs=0.1)
    fixed = assess(40.0, 5.0, 0.0, 1.0, EmodelSettings(jitter_buffer_ms=60))
    assert fixed.mouth_to_ear_ms == pytest.approx(40 + 60 + CODECS["g711"].delay_ms)


def test_one_way_share_of_round_trip_loss() -> None:
    # Both directions losing 10 % lose 19 % of round trips.
    assert one_way_loss_from_round_trip(0.19) == pytest.approx(0.1)
    assert one_way_loss_from_round_trip(0.0) == 0.0 and one_way_loss_from_round_trip(1.0) == 1.0


def test_every_codec_says_where_its_numbers_come_from() -> None:
    assert {"g711", "g722", "g729", "h264"} <= set(CODECS)
    for codec in CODECS.values():
        assert codec.source
    assert "not ITU-T" in CODECS["h264"].source
    with pytest.raises(ValueError, match="opus"):
        EmodelSettings(codec="opus")
    with pytest.raises(ValueError, match="bpl"):
        EmodelCodec("x", ie=0, bpl=0, delay_ms=0, source="")
