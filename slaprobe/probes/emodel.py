"""ITU-T G.107 E-model, simplified for network planning: R-factor and MOS from delay, loss and jitter.

DESIGN.md §4 fixes the formulas. With every G.107 default (no echo, default loudness and noise) the basic
rating is R = 93.2, and only the network-dependent impairments remain:

    R      = 93.2 - Id - Ie,eff
    Id     = 0.024·d + 0.11·(d - 177.3)·H(d - 177.3)                     (H = Heaviside step)
    Ie,eff = Ie + (95 - Ie) · Ppl / (Ppl/BurstR + Bpl)                  (Ppl in percent)
    MOS    = 1 + 0.035·R + 7·10⁻⁶·R·(R - 60)·(100 - R), clamped to [1, 4.5]

``Id`` is the well-known linear approximation of G.107's delay impairment (Cole & Rosenbluth, "Voice
over IP performance monitoring", ACM CCR 2001) and ``d`` the one-way mouth-to-ear delay estimate:
network one-way delay (RTT/2 when only the round trip is known) + jitter buffer + codec delay.

Codec constants (Ie, Bpl) are ITU-T G.113 Appendix I planning values where one exists; each entry in
:data:`CODECS` says where its numbers come from. The E-model rates *speech*; the ``h264`` profile is a
slaprobe convention for video streams (documented on the entry), not an ITU-T video model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

R_DEFAULT = 93.2  # G.107: R with all parameters at their default values


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
    """Id for a one-way mouth-to-ear delay ``d_ms`` (linear approximation of G.107, knee at 177.3 ms)."""
    d = max(0.0, d_ms)
    return 0.024 * d + (0.11 * (d - 177.3) if d > 177.3 else 0.0)


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
    """R = 93.2 - Id(d) - Ie,eff for mouth-to-ear delay ``one_way_delay_ms`` and loss ratio 0..1."""
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
