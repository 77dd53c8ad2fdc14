"""The example network of a synthetic month (``lab month --terminals N``).

Kept apart from ``month`` (planning, truth and writing) because it is about *which* terminals, not what
happens to them.
"""

from __future__ import annotations

from slaprobe.terminal import Terminal

FULL_NETWORK = 1820  # the province network sample_network lays out (province, cities, townships, villages)


def month_network(terminals: int, seed: int) -> list[Terminal]:
    """The example network for a month of ``terminals`` terminals.

    From the full province size up, ``sample_network.generate``. Below it, a sample of the full network
    that keeps its mix: the province venue (its own scheduling group) plus terminals evenly spread over
    the rest, so a small month still has both carriers, several regions and every tier (the first rows
    of ``generate`` alone are all province departments of one carrier until row 69: issue #14).
    """
    from slaprobe import sample_network

    if terminals >= FULL_NETWORK:
        return sample_network.generate(terminals, seed=seed)
    full = sample_network.generate(FULL_NETWORK, seed=seed)
    rest = FULL_NETWORK - 1
    picks = [0] + [1 + int((i + 0.5) * rest / (terminals - 1)) for i in range(terminals - 1)]
    carriers = sorted({t.carrier for t in full})
    for carrier in carriers:
        if terminals < len(carriers) or any(full[i].carrier == carrier for i in picks):
            continue
        last = picks[-1]  # swap the last pick for the nearest terminal of the missing carrier
        picks[-1] = min(
            (i for i, t in enumerate(full) if t.carrier == carrier and i not in picks),
            key=lambda i: abs(i - last),
        )
    return [full[i] for i in sorted(picks)]
