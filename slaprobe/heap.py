"""Giving freed memory back to the system after a bulk read or write.

Why: the columnar tier decodes days of Parquet in worker threads, and the SLA engine's inputs are
gathered on several threads. Arrow's allocator (mimalloc) and glibc's heap keep the freed pages
resident, so a 20,000-terminal month report measured ~1.3 GB of RSS after its pooled-hour reads that no
live object held (tracemalloc: ~20 MB of numpy), and the engine's own peak came on top of it. Returning
them between phases keeps the peak at what is really alive. A module of its own at the top of the
package: the store's readers, ``lab month`` and the engine (between gathering its inputs and
computing) all call it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

import pyarrow as pa


@functools.cache
def _libc() -> ctypes.CDLL | None:
    """glibc, loaded once (``find_library`` runs ``ldconfig``: a process per call), or None."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim  # noqa: B018 (not glibc: no such symbol)
    except (OSError, AttributeError):
        return None
    return libc


def release_free_memory() -> None:
    """Return unused pages of Arrow's memory pool and of the glibc heap (no-op elsewhere)."""
    pa.default_memory_pool().release_unused()
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)
