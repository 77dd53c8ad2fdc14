"""E-model (ITU-T G.107, simplified per DESIGN.md §4) against published worked values.

Sources of the expected numbers:
* ITU-T G.107 §7: with every parameter at its default value the rating is R = 93.2.
* R -> MOS points (G.107 Annex B curve; G.109 user-satisfaction bands) as tabulated in Mitel MiVoice
  MX-ONE CPI, "Speech Quality Measurement", Table 2: R 90 -> 4.34, 80 -> 4.0, 70 -> 3.6, 60 -> 3.1,
  50 -> 2.6 (two decimals only for 4.34; the others are given to one decimal).
* Ie at 0 % and 2 % random packet loss (values following ITU-T G.113 Appendix I Ie/Bpl) as tabulated in
  ICAO ACP WG-I/3 working paper 306, Appendix B, Table B-1: G.711 with PLC 0 / 7, G.729A+VAD 11 / 19,
  G.723.1A+VAD 15 / 24 (rounded to integers there).
* G.711 without PLC: about 25 R-units per percent of loss at low loss, with PLC about 4 (Telektronikk
  article on IP telephony speech quality, Figure 5 discussion), i.e. Bpl 4.3 and 25.1 of G.113.
"""

from __future__ import annotations

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
    assert r_factor(0.0, 0.0, CODECS["g711"]) == pytest.approx(93.2)


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


def test_delay_impairment_by_hand() -> None:
    assert delay_impairment(0) == 0
    assert delay_impairment(100) == pytest.approx(2.4)  # 0.024 * 100
    assert delay_impairment(177.3) == pytest.approx(4.2552)
    assert delay_impairment(300) == pytest.approx(0.024 * 300 + 0.11 * 122.7)


def test_assess_adds_buffer_and_codec_delay() -> None:
    settings = EmodelSettings(codec="g711", jitter_buffer_factor=2.0)
    verdict = assess(40.0, 5.0, 0.0, 1.0, settings)
    assert verdict.mouth_to_ear_ms == pytest.approx(40 + 10 + CODECS["g711"].delay_ms)
    assert verdict.r_factor == pytest.approx(93.2 - 0.024 * verdict.mouth_to_ear_ms)
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
