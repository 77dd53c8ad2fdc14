"""A simulated terminal network for tests, demos and benchmarks.

One network namespace per lab; inside it a TUN device routes whole address blocks (198.18.0.0/16 and
2001:2:0:1::/64 by default) to a responder process that answers ICMP/ICMPv6 echo and UDP for every address,
with per-terminal loss, delay, jitter, duplication, reordering and scripted outages, and writes the ground
truth of every packet. Probers run inside the namespace (``lab.inside()`` / ``lab.command()``), from the
sources ``198.19.255.1`` and ``2001:2:ffff::1``.

    from slaprobe.lab import Lab, LabProfile
    profile = LabProfile.build(terminals=[("T0001", "198.18.0.1")], defaults={"delay_ms": 5}, seed=1)
    with Lab.start(profile) as lab:
        with lab.inside():
            sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        ...
        truth = lab.ground_truth()
"""

from __future__ import annotations

from slaprobe.lab.control import Lab, LabError
from slaprobe.lab.profile import (
    Impairment,
    LabProfile,
    Outage,
    ProfileError,
    load_profile,
    profile_for_inventory,
)
from slaprobe.lab.truth import GroundTruth, TerminalTruth
from slaprobe.lab.udp import UdpContext, UdpHandler, udp_echo

__all__ = [
    "GroundTruth",
    "Impairment",
    "Lab",
    "LabError",
    "LabProfile",
    "Outage",
    "ProfileError",
    "TerminalTruth",
    "UdpContext",
    "UdpHandler",
    "load_profile",
    "profile_for_inventory",
    "udp_echo",
]
