"""The C heap of a serving process.

glibc's malloc gives a freed buffer above its mmap threshold back to the system and trims the heap's free top
beyond its trim threshold, so a batch's multi-MB feature maps are mapped and faulted in again on the next batch
whenever the batches change shape (a regional edit's features beside plain faces): about 0.2 ms a face at batch
32 on a 2-core CPU (docs/benchmarks.md). A serving process keeps them instead. A process-wide setting, so the
entry points make it, not the library.
"""

from __future__ import annotations

import ctypes

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameter numbers (glibc's malloc.h)
MMAP_THRESHOLD = 32 << 20  # glibc's largest: buffers up to this come from the heap and are reused
TRIM_THRESHOLD = 256 << 20  # free heap kept for the next batch before any is given back


def keep_freed_buffers() -> bool:
    """Where the C library is glibc, keep freed buffers of up to MMAP_THRESHOLD in the heap (up to TRIM_THRESHOLD
    of them) for the next batch; whether it was set (elsewhere nothing changes)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own C library
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
