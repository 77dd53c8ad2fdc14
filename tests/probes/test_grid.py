"""The tick grid: every callback runs at its tick, not before, and not much after, whatever the order
in which callbacks were added (including from inside other callbacks)."""

from __future__ import annotations

import asyncio

from slaprobe.probes.grid import TickGrid

TICK = 0.02
SLACK = 0.25  # a loaded CI machine may run a timer late; a stranded tick would be ~1 s late


def test_callbacks_run_at_their_tick_even_when_a_later_one_is_added_first() -> None:
    async def go() -> dict[str, tuple[float, float]]:
        loop = asyncio.get_running_loop()
        grid = TickGrid(loop, TICK)
        ran: dict[str, tuple[float, float]] = {}

        def note(name: str, due: float) -> None:
            ran[name] = (due, loop.time())

        def first(due: float) -> None:
            note("first", due)
            # added from inside a callback, while earlier ticks ("second", "third") are still waiting
            ran_at = loop.time()
            grid.at(ran_at + 1.0, note, "late", grid.time_of(grid.tick_of(ran_at + 1.0)))

        t0 = loop.time()
        for name, offset in (("second", 0.06), ("third", 0.10)):
            grid.at(t0 + offset, note, name, grid.time_of(grid.tick_of(t0 + offset)))
        grid.at(t0 + 0.02, first, grid.time_of(grid.tick_of(t0 + 0.02)))
        grid.at(t0 + 0.04, note, "between", grid.time_of(grid.tick_of(t0 + 0.04)))
        await asyncio.sleep(1.3)
        grid.close()
        return ran

    ran = asyncio.run(go())
    assert set(ran) == {"first", "between", "second", "third", "late"}
    for name, (due, at) in ran.items():
        assert due - 1e-6 <= at <= due + SLACK, (name, due, at)


def test_close_forgets_pending_callbacks() -> None:
    async def go() -> list[int]:
        loop = asyncio.get_running_loop()
        grid = TickGrid(loop, TICK)
        ran: list[int] = []
        grid.at(loop.time() + 0.05, ran.append, 1)
        grid.close()
        await asyncio.sleep(0.15)
        return ran

    assert asyncio.run(go()) == []
