"""ITU-T G.107 E-model: R-factor and MOS from delay, loss and jitter.

docs/measurements.md summarises it; this module computes every term of G.107 (06/2015) §7 rather than the
common linear shortcut, because the shortcut is off by more than 0.5 R around the 177.3 ms knee and by
up to 9 R at satellite-like delays (issue #15):

    R      = Ro - Is - Id - Ie,eff + A
    Ro, Is from the loudness, noise and sidetone parameters (:class:`G107Parameters`, all G.107 defaults:
           Ro - Is = 93.2 to one decimal, the "default rating" G.107 quotes)
    Id     = Idte + Idle + Idd        talker echo, listener echo, absolute delay (T, Ta, Tr)
    Ie,eff = Ie + (95 - Ie) · Ppl / (Ppl/BurstR + Bpl)                  (Ppl in percent)
    MOS    = 1 + 0.035·R + 7·10⁻⁶·R·(R - 60)·(100 - R), clamped to [1, 4.5]

For a measured path the delays are taken as G.107's planning convention for echo-controlled IP paths:
``Ta = T = d`` (mouth-to-ear delay: network one-way delay, i.e. RTT/2 when only the round trip is known,
+ jitter buffer + codec delay) and ``Tr = 2·d`` (the listener-echo loop), with TELR and WEPL at their
defaults (65 dB, 110 dB: echo well controlled).

Codec constants (Ie, Bpl) are ITU-T G.113 Appendix I planning values where one exists; each entry in
:data:`CODECS` says where its numbers come from. The E-model rates *speech*; the ``h264`` profile is a
slaprobe convention for video streams (documented on the entry), not an ITU-T video model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class G107Parameters:
    """The G.107 §7 transmission parameters that are not delays, loss or codec: defaults of Table 1.

    Loudness ratings and noise are in dB, ``qdu`` quantizing distortion units, ``a`` the advantage factor.
    """

    slr: float = 8.0  # send loudness rating
    rlr: float = 2.0  # receive loudness rating
    stmr: float = 15.0  # sidetone masking rating
    lstr: float = 18.0  # listener sidetone rating
    ds: float = 3.0  # D-value of the telephone, send side
    telr: float = 65.0  # talker echo loudness rating
    wepl: float = 110.0  # weighted echo path loss
    qdu: float = 1.0  # quantizing distortion units
    nc: float = -70.0  # circuit noise referred to the 0 dBr point (dBm0p)
    nfor: float = -64.0  # noise floor at the receive side (dBmp)
    ps: float = 35.0  # room noise at the send side (dB(A))
    pr: float = 35.0  # room noise at the receive side (dB(A))
    a: float = 0.0  # advantage factor


DEFAULTS = G107Parameters()


def _noise_sum(p: G107Parameters) -> float:
    """No: the total noise at the 0 dBr point, power sum of circuit, room and noise-floor noise (§7.2)."""
    olr = p.slr + p.rlr
    nos = p.ps - p.slr - p.ds - 100.0 + 0.004 * (p.ps - olr - p.ds - 14.0) ** 2
    pre = p.pr + 10.0 * math.log10(1.0 + 10.0 ** ((10.0 - p.lstr) / 10.0))
    nor = p.rlr - 121.0 + pre + 0.008 * (pre - 35.0) ** 2
    nfo = p.nfor + p.rlr
    return 10.0 * math.log10(sum(10.0 ** (x / 10.0) for x in (p.nc, nos, nor, nfo)))


def basic_rating(p: G107Parameters = DEFAULTS) -> float:
    """Ro = 15 - 1.5·(SLR + No): the basic signal-to-noise ratio (§7.2)."""
    return 15.0 - 1.5 * (p.slr + _noise_sum(p))


def simultaneous_impairment(p: G107Parameters = DEFAULTS, t_ms: float = 0.0) -> float:
    """Is = Iolr + Ist + Iq (§7.3); Ist depends on the talker-echo delay ``T`` through STMRo."""
    no = _noise_sum(p)
    olr = p.slr + p.rlr
    xolr = olr + 0.2 * (64.0 + no - p.rlr)
    iolr = 20.0 * ((1.0 + (xolr / 8.0) ** 8) ** (1 / 8) - xolr / 8.0)
    stmro = -10.0 * math.log10(10.0 ** (-p.stmr / 10.0) + math.exp(-t_ms / 4.0) * 10.0 ** (-p.telr / 10.0))
    ist = (
        12.0 * (1.0 + ((stmro - 13.0) / 6.0) ** 8) ** (1 / 8)
        - 28.0 * (1.0 + ((stmro + 1.0) / 19.4) ** 35) ** (1 / 35)
        - 13.0 * (1.0 + ((stmro - 3.0) / 33.0) ** 13) ** (1 / 13)
        + 29.0
    )
    q = 37.0 - 15.0 * math.log10(p.qdu)
    g = 1.07 + 0.258 * q + 0.0602 * q * q
    y = (basic_rating(p) - 100.0) / 15.0 + 46.0 / 8.4 - g / 9.0
    z = 46.0 / 30.0 - g / 40.0
    iq = 15.0 * math.log10(1.0 + 10.0**y + 10.0**z)
    return iolr + ist + iq


def delay_impairments(
    t_ms: float, ta_ms: float, tr_ms: float, p: G107Parameters = DEFAULTS
) -> tuple[float, float, float]:
    """(Idte, Idle, Idd) of G.107 §7.4 for talker-echo delay T, absolute delay Ta, listener-echo Tr."""
    t, ta, tr = max(0.0, t_ms), max(0.0, ta_ms), max(0.0, tr_ms)
    no = _noise_sum(p)
    ro = basic_rating(p)
    roe = -1.5 * (no - p.rlr)
    terv = p.telr - 40.0 * math.log10((1.0 + t / 10.0) / (1.0 + t / 150.0)) + 6.0 * math.exp(-0.3 * t * t)
    if p.stmr < 9.0:
        terv += simultaneous_impairment(p, t) / 2.0  # G.107 eq. 7-23: TERVs for low sidetone masking
    re = 80.0 + 2.5 * (terv - 14.0)
    idte = ((roe - re) / 2.0 + math.sqrt((roe - re) ** 2 / 4.0 + 100.0) - 1.0) * (1.0 - math.exp(-t))
    if p.stmr > 20.0:  # G.107 eq. 7-25: high sidetone masking raises the talker-echo impairment
        ist = simultaneous_impairment(p, t)
        idte = math.sqrt(idte**2 + ist**2)
    rle = 10.5 * (p.wepl + 7.0) * (tr + 1.0) ** -0.25
    idle = (ro - rle) / 2.0 + math.sqrt((ro - rle) ** 2 / 4.0 + 169.0)
    if ta <= 100.0:
        idd = 0.0
    else:
        x = math.log10(ta / 100.0) / math.log10(2.0)
        idd = 25.0 * ((1.0 + x**6) ** (1 / 6) - 3.0 * (1.0 + (x / 3.0) ** 6) ** (1 / 6) + 2.0)
    return idte, idle, idd


R_DEFAULT = basic_rating() - simultaneous_impairment() - sum(delay_impairments(0.0, 0.0, 0.0)) + DEFAULTS.a
"""R with every G.107 parameter at its default and no delay or loss (G.107 quotes it as 93.2)."""


@dataclass(frozen=True, slots=True)
class EmodelCodec:
    """E-model constants of one codec profile.

    ``ie`` equipment impairment, ``bpl`` packet-loss robustness (G.113 Appendix I); ``delay_ms`` the
    codec's contribution to mouth-to-ear delay (packetisation + algorithmic look-ahead at the default
    20 ms packets); ``source`` where the numbers come from, shown in reports and docs.
    """

    name: str
    ie: float
    bpl: float
    delay_ms: float
    source: str

    def __post_init__(self) -> None:
        if not self.bpl > 0:
            raise ValueError(f"codec {self.name!r}: bpl must be > 0, got {self.bpl!r}")
        if not 0 <= self.delay_ms <= 1000:
            raise ValueError(f"codec {self.name!r}: delay_ms must be 0..1000, got {self.delay_ms!r}")


CODECS: dict[str, EmodelCodec] = {
    c.name: c
    for c in (
        EmodelCodec(
            "g711",
            ie=0.0,
            bpl=25.1,
            delay_ms=20.0,
            source="ITU-T G.113 App. I: G.711 with packet-loss concealment, Ie 0, Bpl 25.1; 20 ms packets",
        ),
        EmodelCodec(
            "g711-noplc",
            ie=0.0,
            bpl=4.3,
            delay_ms=20.0,
            source="ITU-T G.113 App. I: G.711 without packet-loss concealment, Ie 0, Bpl 4.3",
        ),
        EmodelCodec(
            "g729",
            ie=11.0,
            bpl=19.0,
            delay_ms=25.0,
            source="ITU-T G.113 App. I: G.729A + VAD, Ie 11, Bpl 19.0; 20 ms packets + 5 ms look-ahead",
        ),
        EmodelCodec(
            "g722",
            ie=-1.0,
            bpl=25.1,
            delay_ms=21.5,
            source=(
                "G.722 64 kbit/s: Ie,wb 14 mapped to the narrowband scale as Ie = Ie,wb - 15 = -1 (Mitel "
                "MX-ONE planning guide, after ITU-T G.113 App. IV); no narrowband Bpl is published, "
                "G.711+PLC's 25.1 is assumed"
            ),
        ),
        EmodelCodec(
            "h264",
            ie=0.0,
            bpl=4.3,
            delay_ms=33.3,
            source=(
                "slaprobe convention, not ITU-T: G.107 rates speech only. Video has no loss concealment "
                "worth the name (a lost packet damages the picture until the next key frame), so the "
                "profile uses G.711-without-PLC's Bpl 4.3 and one frame at 30 fps of delay; use its MOS "
                "to rank transport quality, not as a video MOS (ITU-T P.1203 / G.1070 would be needed)"
            ),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class EmodelSettings:
    """How a measured stream becomes E-model inputs.

    The jitter buffer is ``jitter_buffer_ms`` when set, else ``jitter_buffer_factor`` × the measured
    one-way jitter (an adaptive buffer sized to a couple of jitter amplitudes), at least
    ``jitter_buffer_min_ms``.
    """

    codec: str = "g711"
    jitter_buffer_ms: float | None = None
    jitter_buffer_factor: float = 2.0
    jitter_buffer_min_ms: float = 0.0

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise ValueError(f"emodel codec {self.codec!r}: unknown (known: {', '.join(sorted(CODECS))})")
        if self.jitter_buffer_ms is not None and not 0 <= self.jitter_buffer_ms <= 2000:
            raise ValueError(f"emodel jitter_buffer_ms={self.jitter_buffer_ms!r}: must be 0..2000")
        if not 0 <= self.jitter_buffer_factor <= 20:
            raise ValueError(f"emodel jitter_buffer_factor={self.jitter_buffer_factor!r}: must be 0..20")


def delay_impairment(d_ms: float) -> float:
    """The drop in R caused by a mouth-to-ear delay ``d_ms`` on an echo-controlled path (Ta = T = d,
    Tr = 2d, other parameters at their defaults): Id(d) - Id(0), plus the small change of Is with T,
    so that ``R_DEFAULT - delay_impairment(d)`` is G.107's R for that delay without loss."""
    d = max(0.0, d_ms)
    at = sum(delay_impairments(d, d, 2.0 * d)) + simultaneous_impairment(DEFAULTS, d)
    zero = sum(delay_impairments(0.0, 0.0, 0.0)) + simultaneous_impairment(DEFAULTS, 0.0)
    return at - zero


def effective_equipment_impairment(
    ie: float, bpl: float, loss_percent: float, burst_ratio: float = 1.0
) -> float:
    """G.107 Ie,eff = Ie + (95 - Ie)·Ppl/(Ppl/BurstR + Bpl); ``loss_percent`` is Ppl in percent."""
    ppl = min(100.0, max(0.0, loss_percent))
    if ppl == 0.0:
        return ie
    burst = burst_ratio if burst_ratio > 0 else 1.0
    return ie + (95.0 - ie) * ppl / (ppl / burst + bpl)


def r_factor(
    one_way_delay_ms: float, loss_ratio: float, codec: EmodelCodec, burst_ratio: float = 1.0
) -> float:
    """G.107 R for mouth-to-ear delay ``one_way_delay_ms`` (Ta = T = d, Tr = 2d) and loss ratio 0..1:
    R = Ro - Is - Id - Ie,eff + A with every other parameter at its default."""
    ie_eff = effective_equipment_impairment(codec.ie, codec.bpl, 100.0 * loss_ratio, burst_ratio)
    return R_DEFAULT - delay_impairment(one_way_delay_ms) - ie_eff


def mos_from_r(r: float) -> float:
    """G.107 Annex B: MOS(R), clamped to [1, 4.5] (the cubic dips below 1 for R under ~6.5)."""
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    mos = 1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)
    return min(4.5, max(1.0, mos))


def one_way_loss_from_round_trip(loss_ratio: float) -> float:
    """One direction's loss when only the round trip is known, assuming both directions lose alike:
    (1 - p)² = 1 - p_rt, so p = 1 - sqrt(1 - p_rt)."""
    p = min(1.0, max(0.0, loss_ratio))
    return 1.0 - math.sqrt(1.0 - p)


@dataclass(frozen=True, slots=True)
class Assessment:
    r_factor: float
    mos: float
    mouth_to_ear_ms: float


def assess(
    one_way_network_ms: float,
    one_way_jitter_ms: float | None,
    one_way_loss: float,
    burst_ratio: float,
    settings: EmodelSettings,
) -> Assessment:
    """R and MOS for one direction of a call: network delay + jitter buffer + codec delay, loss, BurstR."""
    codec = CODECS[settings.codec]
    if settings.jitter_buffer_ms is not None:
        buffer_ms = settings.jitter_buffer_ms
    else:
        buffer_ms = settings.jitter_buffer_factor * (one_way_jitter_ms or 0.0)
    buffer_ms = max(settings.jitter_buffer_min_ms, buffer_ms)
    d = max(0.0, one_way_network_ms) + buffer_ms + codec.delay_ms
    r = r_factor(d, one_way_loss, codec, burst_ratio)
    return Assessment(r_factor=r, mos=mos_from_r(r), mouth_to_ear_ms=d)
