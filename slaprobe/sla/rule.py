"""The availability rule: every knob that turns samples into verdicts, in one printable value.

A report is only defensible if the reader can see which rule produced it, so the rule is a frozen value
with presets, validation that names the offending key, and a stable ``to_dict`` that every report prints.

Definitions (documented for users in docs/availability.md):

* The month is cut into intervals of ``interval_s`` (Δt) on a grid anchored at the Unix epoch, so the
  intervals of two reports (two months, two days) always line up.
* An interval is **high-loss** from one vantage when its loss ratio, pooled over the packets actually
  sent in it, exceeds ``threshold`` (C). ``threshold = 1`` means total loss only (loss can never exceed 1).
  Comparisons are made on integers (``lost * den > num * sent``), never on rounded floats.
* With several vantages, an interval is high-loss when more than ``quorum`` of the vantages that measured
  it saw high loss (``quorum = 0.5``: a strict majority; two vantages disagreeing is *not* down).
* The unavailable state is entered after ``consecutive`` (n) high-loss intervals in a row and left after
  n low-loss intervals in a row; both changes are back-dated to the first interval of the run (MEF 10.3).
  UNKNOWN and maintenance intervals are skipped: they neither extend nor break a run.
* ``chli_run`` (p, 1 <= p) counts consecutive high-loss intervals in available time the MEF 10.3 way:
  every high-loss interval that is the p-th or later of its run and still available counts once.
* A vantage's interval is a **mass event** (UNKNOWN for all its terminals) when at least
  ``mass_event_min`` of the terminals it looked at, and at least ``mass_event_fraction`` of them, were
  high-loss together: the probe host, not 80 % of the province, is the likely culprit.
* A heartbeat covers ``[time, time + interval_s + heartbeat_grace_s)``; an interval is looked at by a
  vantage only when the trusted heartbeats of one probe kind in ``kinds`` (heartbeats are named
  ``<group>/<kind>``) for the terminal's scheduling group cover the whole interval (``intervals.py``).
* ``min_probes``: an interval whose lossy samples sent fewer packets than this is UNKNOWN from that
  vantage: one lost echo is no proof of an outage. (An interval without loss needs no count: one answered
  probe proves the path worked.)
* ``lookaround_s`` of context before and after the period establish the state at the month's edges and the
  true start/end of outages that cross them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from fractions import Fraction
from typing import Any

from slaprobe.model import ProbeKind


class RuleError(ValueError):
    """A rule value that cannot be used; the message names the key and the reason."""


@dataclass(frozen=True, slots=True)
class Rule:
    name: str = "mef10.3"
    interval_s: int = 60
    threshold: float = 0.75
    consecutive: int = 5
    chli_run: int = 3
    quorum: float = 0.5
    mass_event_fraction: float = 0.8
    mass_event_min: int = 10
    heartbeat_grace_s: float = 5.0
    lookaround_s: int = 86_400
    min_probes: int = 1  # a lossy interval with fewer packets sent is UNKNOWN, not down
    kinds: tuple[ProbeKind, ...] = ()  # probe kinds whose samples and heartbeats judge availability; () = all

    def __post_init__(self) -> None:
        def bad(key: str, why: str) -> RuleError:
            return RuleError(f"sla rule {self.name!r}: {key} = {getattr(self, key)!r}: {why}")

        if not isinstance(self.interval_s, int) or self.interval_s <= 0 or 3600 % self.interval_s:
            raise bad("interval_s", "must be a whole number of seconds dividing 3600 (hourly rollups)")
        if not 0.0 <= self.threshold <= 1.0:
            raise bad("threshold", "must be a loss ratio in [0, 1]")
        if not isinstance(self.consecutive, int) or self.consecutive < 1:
            raise bad("consecutive", "must be an integer >= 1")
        if not isinstance(self.chli_run, int) or self.chli_run < 1:
            raise bad("chli_run", "must be an integer >= 1")
        if not 0.0 <= self.quorum < 1.0:
            raise bad("quorum", "must be a fraction in [0, 1)")
        if not 0.0 < self.mass_event_fraction <= 1.0:
            raise bad("mass_event_fraction", "must be a fraction in (0, 1]")
        if not isinstance(self.mass_event_min, int) or self.mass_event_min < 1:
            raise bad("mass_event_min", "must be an integer >= 1")
        if self.heartbeat_grace_s < 0:
            raise bad("heartbeat_grace_s", "must be >= 0")
        if not isinstance(self.min_probes, int) or self.min_probes < 1:
            raise bad("min_probes", "must be an integer >= 1")
        if not isinstance(self.lookaround_s, int) or self.lookaround_s < 0 or self.lookaround_s % 3600:
            raise bad("lookaround_s", "must be a whole number of hours, in seconds")

    # ------------------------------------------------------------------ exact predicates

    @property
    def threshold_fraction(self) -> Fraction:
        return Fraction(str(self.threshold))

    @property
    def quorum_fraction(self) -> Fraction:
        return Fraction(str(self.quorum))

    @property
    def mass_fraction(self) -> Fraction:
        return Fraction(str(self.mass_event_fraction))

    @property
    def interval_ns(self) -> int:
        return self.interval_s * 1_000_000_000

    def counts_kind(self, kind: ProbeKind) -> bool:
        return not self.kinds or kind in self.kinds

    # ------------------------------------------------------------------ presentation

    def to_dict(self) -> dict[str, Any]:
        """Stable, JSON-ready mapping (printed on every report)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "kinds":
                value = [k.value for k in value] or ["all"]
            out[f.name] = value
        return out

    def describe(self) -> str:
        """One line for text reports."""
        c = "total loss" if self.threshold >= 1.0 else f"loss > {self.threshold:g}"
        kinds = ",".join(k.value for k in self.kinds) or "all"
        return (
            f"{self.name}: Δt {self.interval_s} s, high-loss = {c}, n = {self.consecutive}, "
            f"CHLI p = {self.chli_run}, quorum > {self.quorum:g}, "
            f"mass event >= {self.mass_event_min} and >= {self.mass_event_fraction:g} of a vantage, "
            f"kinds {kinds}"
        )


PRESETS: Mapping[str, Rule] = {
    "mef10.3": Rule(name="mef10.3", interval_s=60, threshold=0.75, consecutive=5, chli_run=3),
    "y1540": Rule(name="y1540", interval_s=300, threshold=0.75, consecutive=1, chli_run=1),
    "strict": Rule(name="strict", interval_s=60, threshold=1.0, consecutive=1, chli_run=1),
}
DEFAULT_PRESET = "mef10.3"


def rule_from(preset: str = DEFAULT_PRESET, **overrides: Any) -> Rule:
    """A preset with overrides (``None`` values are ignored); the name becomes ``preset+custom`` if changed.

    ``kinds`` may be given as strings. Unknown keys or presets raise :class:`RuleError` naming them.
    """
    if preset not in PRESETS:
        raise RuleError(f"sla preset {preset!r}: unknown; choose one of {', '.join(sorted(PRESETS))}")
    base = PRESETS[preset]
    known = {f.name for f in fields(Rule)} - {"name"}
    changes: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in known:
            raise RuleError(f"sla rule: unknown key {key!r}; known keys: {', '.join(sorted(known))}")
        if key == "kinds":
            try:
                value = tuple(ProbeKind(k) for k in value)
            except ValueError as exc:
                raise RuleError(f"sla rule: kinds = {value!r}: {exc}") from None
        if getattr(base, key) != value:
            changes[key] = value
    if not changes:
        return base
    return replace(base, name=f"{preset}+custom", **changes)


def rule_from_config(sla: Any) -> Rule:
    """The rule a ``config.SlaConfig`` section describes (preset plus its overrides)."""
    return rule_from(
        sla.preset,
        interval_s=sla.interval_s,
        threshold=sla.threshold,
        consecutive=sla.consecutive,
        quorum=sla.quorum,
        min_probes=sla.min_probes,
    )
